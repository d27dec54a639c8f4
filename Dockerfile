# One image for every role: `churn-alert worker` (default), `churn-alert api`, `churn-alert simulate`.
# Settings come from CHURN_* environment variables only (config/settings.py).
FROM python:3.11-slim AS build
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --uid 10001 --create-home churn && mkdir /data && chown churn:churn /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER churn
WORKDIR /home/churn
# Production defaults: RocksDB tables on the /data volume, /metrics /healthz /readyz on 9100.
ENV CHURN_STORE=rocksdb \
    CHURN_DATA_DIR=/data \
    CHURN_METRICS_PORT=9100 \
    CHURN_LOG_LEVEL=info
VOLUME ["/data"]
EXPOSE 9100 8080
ENTRYPOINT ["churn-alert"]
CMD ["worker"]
