/* Framed message channels (placeholder until implemented). */
#include "internal.h"
