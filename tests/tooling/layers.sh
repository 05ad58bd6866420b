#!/bin/sh
# layers.sh SRC_DIR LIB [NM] — keeps the broker's layers in shape.
#
# The broker's modules, lowest first:
#   records   the context (struct gx_ctx) and the records in the store
#   persist   the engine across restarts: start, snapshots, replay
#   notify    effects and state changes -> notices
#   feddock   docking across cities: sealed messages made and applied (federation)
#   fedapply  other cities' postings applied (federation)
#   report    what operators read
#   requests  one handler per request
#   broker    lifecycle, batches, delivery (the only one broker.h names)
# A module may include the headers of those below it and call their
# functions; never those above. Fails (exit 1) naming each breach:
#   1. a module's .c or .h includes a header of a module above it, or
#      broker_int.h (the old header every layer shared);
#   2. a file outside them, other than loop.c/loop.h/main.c (above the broker),
#      includes one of their headers;
#   3. an object of the static core library LIB refers to a function another
#      object defines when that object's module is above its own (what calls
#      up, whatever the names or macros say), read with nm.
set -u
src=$1
lib=$2
nm=${3:-nm}
order="records persist notify feddock fedapply report requests broker"
fail=0

rank() {
    i=0
    for m in $order; do
        if [ "$m" = "$1" ]; then
            echo $i
            return
        fi
        i=$((i + 1))
    done
    echo -1
}

includes() { # the local headers a file includes, without ".h"
    sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)\.h".*/\1/p' "$1"
}

# 1 and 2: includes
for f in "$src"/*.c "$src"/*.h; do
    base=$(basename "$f")
    mod=${base%.*}
    r=$(rank "$mod")
    for h in $(includes "$f"); do
        if [ "$h" = broker_int ]; then
            echo "layers: $base includes broker_int.h; include records.h and the headers of the modules below instead"
            fail=1
            continue
        fi
        hr=$(rank "$h")
        [ "$hr" -ge 0 ] || continue
        [ "$h" = "$mod" ] && continue
        if [ "$r" -ge 0 ]; then
            if [ "$hr" -gt "$r" ]; then
                echo "layers: $base includes $h.h, a module above $mod (order, lowest first: $order)"
                fail=1
            fi
        else
            case "$base" in
            loop.c | loop.h | main.c) ;;
            *)
                echo "layers: $base includes $h.h, but only the broker's own modules and the loop above them may"
                fail=1
                ;;
            esac
        fi
    done
done

# 3: calls, from the objects
if [ ! -f "$lib" ]; then
    echo "layers: no library $lib"
    exit 1
fi
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
# "member defined|undefined symbol" for every member of the archive
"$nm" -A "$lib" 2>/dev/null | awk '
    NF == 3 && ($2 == "T" || $2 == "U") {
        n = split($1, p, ":"); obj = p[n - 1]; sub(/\.c\.o$/, "", obj); sub(/\.o$/, "", obj)
        print obj, $2, $3
    }' >"$tmp/syms"
if ! grep -q ' T gx_broker_new$' "$tmp/syms"; then
    echo "layers: $nm read no functions of broker.c from $lib"
    exit 1
fi
for up in $order; do
    awk -v m="$up" '$1 == m && $2 == "T" { print $3 }' "$tmp/syms" | sort -u >"$tmp/def.$up"
done
for low in $order; do
    lr=$(rank "$low")
    awk -v m="$low" '$1 == m && $2 == "U" { print $3 }' "$tmp/syms" | sort -u >"$tmp/use.$low"
    for up in $order; do
        [ "$(rank "$up")" -gt "$lr" ] || continue
        for fn in $(comm -12 "$tmp/use.$low" "$tmp/def.$up"); do
            echo "layers: $low.c calls $fn, defined in $up.c above it"
            fail=1
        done
    done
done

if [ "$fail" = 0 ]; then
    echo "layers: $order: no include or call goes up"
fi
exit $fail
