#!/bin/bash
# The any-game check (issue 23): a short Breakout pipeline with a PPO agent, every printed line and written text
# file grepped for Ms. Pac-Man words.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD/src OMP_NUM_THREADS=1
O=${1:-runs/any-game}
rm -rf "$O"; mkdir -p "$O"
r() { echo "\$ rlsae $*"; python -m rlsae.cli "$@" --no-progress; }
{
r train-agent --algorithm ppo --game breakout --out "$O/agent" --total-steps 4096 --eval-every 4096 --eval-episodes 2 --device cpu
python -m rlsae.cli evaluate-agent --agent "$O/agent/best" --act sample --epsilon 0 --episodes 4 --num-envs 4
r record --agent "$O/agent/best" --act sample --epsilon 0 --out "$O/rec" --steps 4000 --num-envs 4
r train-sae --recording "$O/rec" --out "$O/sae" --d-sae 256 --k 16 --samples 100000
r evaluate --sae "$O/sae" --act sample --epsilon 0 --episodes 2 --num-envs 2
r interpret --sae "$O/sae" --out "$O/interpret"
F=$(python -c "import sys; from rlsae.analysis.results import load_result; import numpy as np; print(int(np.argmax(load_result(sys.argv[1]).density)))" "$O/interpret")
r steer --sae "$O/sae" --interpret "$O/interpret" --feature "$F" --act sample --epsilon 0 --episodes 2 --num-envs 2 --max-steps 500 --out "$O/steer"
r browse --interpret "$O/interpret" --steering "$O/steer" --evaluation "$O/sae/evaluation.json" --out "$O/browser" --workers 1
} > "$O/output.log" 2>&1
echo "printed lines mentioning pac/pill/ghost:"
grep -inE "pac|pill|ghost" "$O/output.log" || echo "  none"
echo "words containing pac/pill/ghost in written text files (file: word):"
grep -rioE "[a-z_-]*(pac|pill|ghost)[a-z_-]*" "$O" --include='*.json' --include='*.jsonl' --include='*.js' \
    --include='*.html' --include='*.css' --include='*.md' --include='*.txt' --include='*.csv' | sort -u || echo "  none"
