# The image a GKE sweep's pods run (python -m ferjax.sweep --executor=gke): ferjax installed at
# /opt/ferjax with MTCNN's weights, nothing of the machine that built it.
#   CPU:   docker build -t ferjax:cpu .
#   CUDA:  docker build --build-arg EXTRAS=detect,cuda -t ferjax:cuda .   (CUDA 13 drivers;
#          EXTRAS=detect,cuda12 for CUDA 12; jax's wheels bring the CUDA libraries)
#   TPU:   docker build --build-arg EXTRAS=detect,tpu -t ferjax:tpu .
FROM python:3.11-slim
ARG EXTRAS=detect
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /opt/ferjax
COPY . .
# Editable: the modules run from /opt/ferjax, the one copy (python -m puts the cwd first).
RUN pip install --upgrade pip && pip install -e ".[${EXTRAS}]"
# The sweep folders live on the mounted volume (/sweeps); datasets on TFDS's default path or
# wherever --launch_flag=--config.data.data_dir points.
CMD ["python", "-m", "ferjax.sweep", "--help"]
