# One image for every FarmTrust server process (api, ingest, vision worker, edge simulator).
FROM python:3.11-slim
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 curl && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml requirements.lock README.md LICENSE ./
COPY edge edge
COPY vision vision
COPY remote_sensing remote_sensing
COPY credit credit
COPY store store
COPY api api
COPY farmtrust farmtrust
COPY bench bench
COPY vocabulary vocabulary
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu -c requirements.lock ".[all]" \
    || pip install ".[all]"
ENV FARMTRUST_DATA_DIR=/data
VOLUME ["/data"]
ENTRYPOINT []
CMD ["farmtrust", "--help"]
