# Arithmetic expansion $((...)).

### basic operators
echo $((1 + 2)) $((7 - 10)) $((6 * 7)) $((7 / 2)) $((7 % 3))
--- stdout
3 -3 42 3 1
--- status 0

### precedence and parentheses
echo $((2 + 3 * 4)) $(((2 + 3) * 4)) $((10 - 4 - 3)) $((2 * 3 % 4))
--- stdout
14 20 3 2
--- status 0

### division truncates toward zero
echo $((-7 / 2)) $((-7 % 2)) $((7 / -2))
--- stdout
-3 -1 -3
--- status 0

### unary operators
echo $((-3)) $((+3)) $((!0)) $((!5)) $((~0)) $((- -2))
--- stdout
-3 3 1 0 -1 2
--- status 0

### comparison operators give 1 or 0
echo $((1 < 2)) $((2 <= 1)) $((3 > 2)) $((3 >= 4)) $((5 == 5)) $((5 != 5))
--- stdout
1 0 1 0 1 0
--- status 0

### logical and or short circuit
x=0
echo $((0 && (x = 1))) $x $((1 || (x = 2))) $x $((2 && 3)) $((0 || 0))
--- stdout
0 0 1 0 1 0
--- status 0

### bitwise operators and shifts
echo $((6 & 3)) $((6 | 3)) $((6 ^ 3)) $((1 << 4)) $((256 >> 3))
--- stdout
2 7 5 16 32
--- status 0

### conditional operator
echo $((1 ? 10 : 20)) $((0 ? 10 : 20)) $((2 > 1 ? 3 > 4 ? 5 : 6 : 7))
--- stdout
10 20 6
--- status 0

### variables with and without dollar
x=5 y=3
echo $((x * y)) $(($x + $y)) $((x - y))
--- stdout
15 8 2
--- status 0

### unset and empty variables are zero
unset u
e=
echo $((u + 1)) $((u))
--- stdout
1 0
--- status 0

### variable holding an expression
x='2 + 3'
echo $(($x * 2))
--- stdout
8
--- status 0

### assignment operators
x=10
: $((x += 5)); echo $x
: $((x -= 3)); echo $x
: $((x *= 2)); echo $x
: $((x /= 5)); echo $x
: $((x %= 3)); echo $x
: $((x <<= 4)); echo $x
: $((x >>= 2)); echo $x
: $((x &= 6)); echo $x
: $((x |= 9)); echo $x
: $((x ^= 3)); echo $x
--- stdout
15
12
24
4
1
16
4
4
13
14
--- status 0

### assignment expression value
echo $((y = 4 * 2)) $y
--- stdout
8 8
--- status 0

### hex and octal constants
echo $((0x1f)) $((0X10)) $((010)) $((0)) $((0xff & 017))
--- stdout
31 16 8 0 15
--- status 0

### variable holding hex or octal
h=0x10 o=010
echo $((h + o))
--- stdout
24
--- status 0

### whitespace and newlines inside
echo $((  1
+ 2  ))
--- stdout
3
--- status 0

### nested arithmetic and substitution
n=3
echo $(( $((n * 2)) + $(echo 4) ))
--- stdout
10
--- status 0

### arithmetic results join with adjacent text
x=$((1+1))"$((2+2))"
echo $x
--- stdout
24
--- status 0

### large 64-bit values
echo $((2147483647 + 1)) $((1 << 40)) $((-9223372036854775807 - 1))
--- stdout
2147483648 1099511627776 -9223372036854775808
--- status 0

### division by zero is an error
(echo $((1 / 0)); echo not reached) 2>/dev/null
[ $? -ne 0 ] && echo failed
(x=0; echo $((5 % x))) 2>/dev/null
[ $? -ne 0 ] && echo failed
--- stdout
failed
failed
--- status 0

### division by zero ends a script with status 2
echo before
echo $((1 / 0))
echo after
--- stdout
before
--- status 2

### syntax error in arithmetic ends a script with status 2
echo before
echo $((1 + ))
echo after
--- stdout
before
--- status 2

### arithmetic in a loop counter
i=0 s=0
while [ $i -lt 10 ]; do i=$((i + 1)); s=$((s + i)); done
echo $s
--- stdout
55
--- status 0

### comparison used as a condition with test
a=7
if [ $((a % 2)) -eq 1 ]; then echo odd; fi
--- stdout
odd
--- status 0

### parenthesised negative and modulo of negatives
echo $(( (-5) % 3 )) $(( 5 % -3 )) $(( -(2 + 3) ))
--- stdout
-2 2 -5
--- status 0
