"""Deep models: the papers' CNNs and torchvision backbones (``deep.nets``), a batched tensor training engine
(``deep.train``, ``deep.augment``), fine-tuning strategies (``deep.finetune``), the scikit-learn style
``DeepClassifier`` (``deep.estimator``) and the registered model names (``deep.zoo``)."""
