# Resource hygiene: command substitutions and pipelines leave no fd and no zombie behind.
# Zombies are counted from /proc/*/stat without starting any process: state Z, ppid = $$.

### 400 substitutions of 1 MiB leave no fd and no zombie [slow]
set -- /proc/$$/fd/*; before=$#  # counted by the shell itself: no child racing our own spawns
i=0 bad=0
while [ $i -lt 400 ]; do
  x=$(head -c 1048576 /dev/zero | tr '\0' a)
  [ ${#x} -eq 1048576 ] || bad=$((bad + 1))
  i=$((i + 1))
done
set -- /proc/$$/fd/*; after=$#
echo "wrong sizes: $bad"
[ "$before" -eq "$after" ] && echo "fds unchanged" || echo "fds $before -> $after"
z=0
for d in /proc/[0-9]*; do
  line=
  read -r line < "$d/stat" 2>/dev/null || continue
  set -- ${line##*) }
  [ "$1" = Z ] && [ "$2" = $$ ] && z=$((z + 1))
done
echo "zombies: $z"
--- stdout
wrong sizes: 0
fds unchanged
zombies: 0
--- status 0

### substitution content of 1 MiB is exact
x=$(head -c 1048576 /dev/zero | tr '\0' a)
y=${x%a}
echo "${#x} ${#y}"
case $x in *[!a]*) echo other-bytes;; *) echo all-a;; esac
--- stdout
1048576 1048575
all-a
--- status 0

### 300 pipelines and substitutions leave no fd and no zombie [slow]
set -- /proc/$$/fd/*; before=$#  # counted by the shell itself: no child racing our own spawns
i=0
while [ $i -lt 300 ]; do
  x=$(echo $i | cat | cat)
  echo "$x" | cat > /dev/null
  sh -c 'exit 0' &
  wait $!
  i=$((i + 1))
done
set -- /proc/$$/fd/*; after=$#
[ "$before" -eq "$after" ] && echo "fds unchanged" || echo "fds $before -> $after"
z=0
for d in /proc/[0-9]*; do
  line=
  read -r line < "$d/stat" 2>/dev/null || continue
  set -- ${line##*) }
  [ "$1" = Z ] && [ "$2" = $$ ] && z=$((z + 1))
done
echo "zombies: $z last: $x"
--- stdout
fds unchanged
zombies: 0 last: 299
--- status 0

### children get only the standard fds and those the script opened
# lp-fds (tests/helpers) prints its own open fds.
fds=$LP_HELPERS/lp-fds
"$fds"
x=$("$fds"); echo "$x"
"$fds" | cat
exec 3> f
"$fds"
exec 3>&-
"$fds" < /dev/null 2>/dev/null
while :; do "$fds"; break; done < /dev/null
{ "$fds"; } 2>/dev/null
f() { "$fds"; }
f 2>/dev/null
--- stdout
0 1 2
0 1 2
0 1 2
0 1 2 3
0 1 2
0 1 2
0 1 2
0 1 2
--- status 0

### redirection of a builtin leaves no extra fd
set -- /proc/$$/fd/*; before=$#  # counted by the shell itself: no child racing our own spawns
i=0
while [ $i -lt 100 ]; do
  echo x > f
  read y < f
  { echo a; } 2>/dev/null > f
  i=$((i + 1))
done
set -- /proc/$$/fd/*; after=$#
[ "$before" -eq "$after" ] && echo "fds unchanged" || echo "fds $before -> $after"
--- stdout
fds unchanged
--- status 0
