#!/usr/bin/env bash
# Every real-data run committed under results/, in the order they were made. Extra arguments go to each run
# (e.g. `bash experiments/real-data.sh --threads 1 --no-progress`); a finished unit is never redone, so the
# script resumes where it stopped. Data: ../shared/data (see each dataset's PROVENANCE.txt).
set -euo pipefail
DATA=${FER_BENCH_SHARED_DATA:-../shared/data}
bench data import fer2013 "$DATA/fer2013"
bench data import jaffe "$DATA/jaffe" --crop-faces --size 48
bench data import folder "$DATA/taiwan/faces_256x256" --name taiwan --crop-faces --size 48 \
  --label-regex '^(?P<subject>\d{2})(?P<performance>\d)(?P<view>\d)(?P<label>[a-g0])\d{2}\.jpg$' \
  --label-map 'a=neutral,b=happy,c=sad,d=angry,e=disgust,f=fear,g=surprise'
bench data import jaffe "$DATA/jaffe" --name jaffe-faces --crop-faces --size 224

# FER2013, official split: the classical default set, paper 003's CNN with its recipe (50 epochs) and paper 002's
# CNN with its preset for 10 of at most 50 epochs.
bench run --config experiments/fer2013_official_classical.toml "$@"
bench run --config experiments/fer2013_official_cnn003.toml --save-models "$@"
bench run --config experiments/fer2013_official_cnn002.toml --epochs 10 --save-models \
  --name official-fer2013-cnn-002 "$@"

# Protocol inflation: the same models on JAFFE and the Taiwanese database under each protocol.
for protocol in "random" "kfold" "subject --folds loso"; do
  bench run --protocol $protocol --dataset jaffe --model classical,cnn-003 --accel auto "$@"
done
for protocol in "random" "kfold" "subject"; do
  bench run --protocol $protocol --dataset taiwan --model classical,cnn-003 --accel auto "$@"
done

# Paper 000's three CNNs on FER2013 with its recipe for 10 of its 75 epochs (their models are the source models
# of the cross-dataset runs below, which reuse them with --source-run).
bench run --config experiments/paper000_table5_fer2013.toml --epochs 10 --save-models --name paper000-table5 "$@"

# FER2013 -> JAFFE and FER2013 -> Taiwanese, paper 002's protocol (target 61.5/7/31.5 and 80/10/10 by subject,
# 50 % and 100 % of the target training data): paper 000's Model 1 in place of paper 002's 19.3M-parameter CNN,
# and the two best classical pipelines on FER2013.
for target in jaffe taiwan; do
  bench run --config "experiments/paper002_fig6_fer2013_to_$target.toml" --model cnn-000-m1 --epochs 10 \
    --source-run results/paper000-table5 --name "paper002-fig6-$target-cnn-000-m1" "$@"
  bench run --config "experiments/paper002_fig6_fer2013_to_$target.toml" --model hog-rbf,lbp-rbf --accel auto \
    --name "paper002-fig6-$target-classical" "$@"
done

# Paper 004's standard CNN on JAFFE face crops at five input sizes, its random 10 % test set; and at 128x128
# subject-disjoint.
bench run --config experiments/paper004_table1_standard_cnn_jaffe.toml --name paper004-table1 "$@"
bench run --config experiments/paper004_table1_standard_cnn_jaffe_subject.toml --name paper004-table1-subject "$@"

# Paper 000, Table 6: FER2013 -> JAFFE, from scratch and every layer fine-tuned (--variants in the files), on its
# random 60/20/20 split and subject-disjoint; the paper's 75 epochs on JAFFE, from the 10-epoch FER2013 models.
bench run --config experiments/paper000_table6_fer2013_to_jaffe.toml --source-run results/paper000-table5 \
  --name paper000-table6 "$@"
bench run --config experiments/paper000_table6_fer2013_to_jaffe_subject.toml \
  --source-run results/paper000-table5 --name paper000-table6-subject "$@"
