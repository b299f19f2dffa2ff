# evalsuite in a container: the study with its locked dependencies and the paper preset's
# backbone weights baked in, so that it runs offline (docs/container-and-ci.md, "The container").
#
#   docker build -t evalsuite .                                          CPU torch (default)
#   docker build --build-arg TORCH_VARIANT=cu130 -t evalsuite:cu130 .    CUDA 13.0 torch
#   docker run --rm -v "$PWD/out:/out" evalsuite all --preset demo
#   docker run --rm -v "$PWD/data:/data" -v "$PWD/out:/out" evalsuite all
#
# Stage `build` installs everything into the virtual environment /opt/venv and downloads the
# weights into the Hugging Face cache /opt/huggingface (the network is needed here only);
# stage `runtime` copies both onto the same base image and runs as a non-root user, offline.
# tests/test_container.py lints this file and runs its install commands in a fresh venv.

FROM python:3.11.11-slim-bookworm AS build

# The torch build: `cpu` (PyTorch's CPU wheel index) or a CUDA one such as `cu130`; the wheels
# of that index are versioned `<version>+<variant>`.
ARG TORCH_VARIANT=cpu
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/${TORCH_VARIANT}
ARG TORCH_VERSION=2.14.1
ARG TORCHVISION_VERSION=0.29.1

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    HF_HOME=/opt/huggingface

RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY evalsuite ./evalsuite
COPY templates ./templates

# constraints.txt locks PyPI's torch build with its CUDA libraries (torch, torchvision, triton,
# nvidia-*, cuda-*): those lines are dropped, torch and torchvision come from the PyTorch index
# without their dependencies, and the project's install then resolves everything else, torch's
# own dependencies included, from PyPI under the remaining locked versions.
RUN --mount=type=cache,target=/root/.cache/pip \
    grep -v -E '^(torch|torchvision|triton|nvidia-[A-Za-z0-9_.-]+|cuda-[A-Za-z0-9_.-]+)==' \
        constraints.txt > constraints-image.txt \
    && pip install --no-deps --index-url "${TORCH_INDEX_URL}" \
        "torch==${TORCH_VERSION}+${TORCH_VARIANT}" \
        "torchvision==${TORCHVISION_VERSION}+${TORCH_VARIANT}" \
    && pip install -c constraints-image.txt . \
    && pip check

# The paper preset's backbones, downloaded into $HF_HOME and then found there offline.
COPY docker/fetch_weights.py ./docker/
RUN python docker/fetch_weights.py


FROM python:3.11.11-slim-bookworm AS runtime

ARG TORCH_VARIANT=cpu
LABEL org.opencontainers.image.title="evalsuite" \
      org.opencontainers.image.description="PatchCore vs PaDiM on MVTec AD, clean and shifted" \
      org.opencontainers.image.licenses="Apache-2.0" \
      io.evalsuite.torch-variant="${TORCH_VARIANT}"

# EVALSUITE_PRESET and EVALSUITE_DATA_ROOT make `evalsuite all` the paper study on /data;
# generated data and the feature cache live in /out/.cache, so a second run resumes.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    HF_HOME=/opt/huggingface \
    HF_HUB_OFFLINE=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    EVALSUITE_CACHE=/out/.cache \
    EVALSUITE_PRESET=paper \
    EVALSUITE_DATA_ROOT=/data

RUN useradd --create-home --uid 1000 --user-group evalsuite \
    && mkdir -p /data /out \
    && chown evalsuite:evalsuite /data /out

COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/huggingface /opt/huggingface

USER 1000:1000
WORKDIR /out
VOLUME ["/data", "/out"]
# exec form: evalsuite itself is PID 1 and handles SIGTERM like Ctrl-C, so `docker stop` keeps
# the finished cells, removes temp files and exits 143
ENTRYPOINT ["evalsuite"]
CMD ["all"]
