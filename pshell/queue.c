/* pshell's queue builtin (placeholder until implemented). */
#include "shell.h"
