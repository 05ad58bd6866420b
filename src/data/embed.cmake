# Turns a data file into a C source defining `const char SYM[]` (NUL-terminated)
# and `const unsigned long SYM_len`. Usage: cmake -DIN=f -DOUT=f.c -DSYM=name -P embed.cmake
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" hexlen)
math(EXPR len "${hexlen} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" body "${body}")
file(WRITE ${OUT} "/* generated from ${IN} by embed.cmake; do not edit */\n"
  "const char ${SYM}[] = {\n${body}0x00};\nconst unsigned long ${SYM}_len = ${len}UL;\n")
