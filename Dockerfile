# syntax=docker/dockerfile:1
# Build stage: install the app and its dependencies into a self-contained virtualenv.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY app ./app
RUN /opt/venv/bin/pip install .

# Runtime stage: no compilers, a non-root user, migrations then uvicorn.
FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 EXCHANGE_ENVIRONMENT=production \
    EXCHANGE_VAR_DIR=/var/lib/exchange
RUN useradd --system --uid 10001 --home-dir /var/lib/exchange --create-home exchange
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv/exchange
COPY alembic.ini ./
COPY migrations ./migrations
COPY app ./app
USER exchange
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz').status==200 else 1)"
CMD ["sh", "-c", "exchange migrate && exec uvicorn app.main:app --host 0.0.0.0 --port 8000 --proxy-headers --forwarded-allow-ips=${EXCHANGE_FORWARDED_ALLOW_IPS:-127.0.0.1}"]
