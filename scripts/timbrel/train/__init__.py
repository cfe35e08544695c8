"""Training of the VQ timbre models (``python -m timbrel.train.vq``) and an offline renderer
of exported models (``python -m timbrel.train.render``)."""
