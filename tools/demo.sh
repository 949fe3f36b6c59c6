#!/usr/bin/env bash
# `make demo`: scores a handful of reviews and samples text with the shipped models, through the
# C library (the C examples in examples/c, linked against out/lib/libswiftrnn.so).
set -euo pipefail
cd "$(dirname "$0")/.."
SENT=models/sentiment-imdb.safetensors
LM=models/charlm-mysterious-island.safetensors
for f in $SENT $LM; do [ -f "$f" ] || { echo "demo: $f is missing"; exit 1; }; done

echo "== $(out/bin/swiftrnn inspect $SENT | head -1)"
cat <<'REVIEWS' > out/demo-reviews.txt
This movie was a masterpiece: moving, funny and beautifully acted. I loved every minute of it.
A total waste of two hours. The plot made no sense and the acting was wooden.
Not bad, but the second half drags and the ending is predictable.
One of the best films I have seen this year :) Go and see it!
I wanted to like it, but honestly it was boring, slow and far too long.
<br /><br />The cinematography is stunning and the score gave me chills.
REVIEWS
out/bin/score_reviews $SENT out/demo-reviews.txt

echo
echo "== $(out/bin/swiftrnn inspect $LM | head -1)"
for scale in 0.5 1.0 2.0; do
  echo "-- scale_factor $scale (temperature $(awk "BEGIN{print 1/$scale}")), seed 1, 300 characters:"
  out/bin/generate $LM "The island" 300 $scale 1
  echo
done

cat <<EOF2
The same from Python (bindings/python; pip install ./bindings/python):
  PYTHONPATH=bindings/python python3 -c "import swiftrnn; print(swiftrnn.load('$SENT').score('A wonderful film.')); print(swiftrnn.load('$LM').sample('The island', 300, scale_factor=2.0, seed=1))"
EOF2
