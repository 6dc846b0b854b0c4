#!/bin/sh
# make_sample.sh INDEX OUT.pgm [p2|p5]: writes Fashion-MNIST test image INDEX (0-9999) as a 28x28 PGM, light
# object on a dark background as in the data set, and prints its label. P5 (binary) unless p2 (text) is asked for.
# DATA names the folder with t10k-images-idx3-ubyte[.gz] (default /usr/share/datasets/fashion-mnist).
set -eu
if [ $# -lt 2 ]; then
    echo "usage: $0 INDEX OUT.pgm [p2|p5]" >&2
    exit 2
fi
index=$1 out=$2 format=${3:-p5}
data=${DATA:-/usr/share/datasets/fashion-mnist}
case $index in '' | *[!0-9]*) echo "$0: INDEX is a number from 0 to 9999" >&2; exit 2 ;; esac
[ "$index" -le 9999 ] || { echo "$0: INDEX is a number from 0 to 9999" >&2; exit 2; }

# idx files, plain or gzipped: 16 header bytes then 784 bytes per image; labels: 8 header bytes then one each
read_idx() { # name
    if [ -f "$data/$1" ]; then cat "$data/$1"
    elif [ -f "$data/$1.gz" ]; then gzip -dc "$data/$1.gz"
    else echo "$0: no $data/$1[.gz]; install dataset-fashion-mnist or set DATA" >&2; exit 1
    fi
}
pixels() { read_idx t10k-images-idx3-ubyte | tail -c +$((16 + 784 * index + 1)) | head -c 784; }
label=$(read_idx t10k-labels-idx1-ubyte | tail -c +$((8 + index + 1)) | head -c 1 | od -An -tu1 | tr -d ' ')
set -- "t-shirt/top" trouser pullover dress coat sandal shirt sneaker bag "ankle boot"
shift "$label"
name=$1

if [ "$format" = p2 ]; then
    { printf 'P2\n# Fashion-MNIST test image %s: %s\n28 28\n255\n' "$index" "$name"
      pixels | od -An -v -tu1 -w28 | sed 's/^ *//; s/  */ /g'; } > "$out"
else
    { printf 'P5\n# Fashion-MNIST test image %s: %s\n28 28\n255\n' "$index" "$name"; pixels; } > "$out"
fi
echo "$out: test image $index, $name"
