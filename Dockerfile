# evalsuite container (first version; the multi-stage build with baked weights is issue 7).
# Build: docker build -t evalsuite .    Run: docker run --rm -v "$PWD/out:/out" evalsuite --help
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1

WORKDIR /opt/evalsuite
COPY pyproject.toml constraints.txt README.md ./
COPY evalsuite ./evalsuite
RUN pip install --no-cache-dir -c constraints.txt . \
    && useradd --create-home --uid 1000 evalsuite
USER 1000
WORKDIR /out
VOLUME ["/data", "/out"]
ENTRYPOINT ["evalsuite"]
CMD ["--help"]
