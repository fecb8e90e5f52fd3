# One image for the API and the workers (the command picks the role).
# Not built in this project's CI (no Docker engine there); scripts/setup.sh is the tested path.
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements/ requirements/
RUN pip install --no-cache-dir -r requirements/engines.txt -r requirements/piper.txt numpy==1.26.4 \
 && pip install --no-cache-dir --no-deps mediapipe==0.10.21 -r requirements/engines-nodeps.txt
# GPU=1 (compose.yaml's worker-gpu): torch and transformers for CSM-1B, Whisper large on CUDA
# and vision-language models; PyPI's Linux torch wheels are the CUDA build
ARG GPU=0
RUN if [ "$GPU" = "1" ]; then pip install --no-cache-dir -r requirements/gpu.txt; fi
COPY pyproject.toml README.md c3_render_api.py ./
COPY src/ src/
RUN pip install --no-cache-dir --no-deps .

# run as an unprivileged user that owns only /data (the code stays root-owned, read-only to it)
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin c3 \
 && mkdir -p /data && chown c3:c3 /data
ENV API_HOST=0.0.0.0 API_PORT=5000 C3_DATA_DIR=/data PYTHONUNBUFFERED=1
VOLUME /data
USER c3:c3
EXPOSE 5000
# API: granian (faster than gunicorn in bench/bench_api.py); workers: `c3-render worker --preload`
CMD ["c3-render", "api"]
