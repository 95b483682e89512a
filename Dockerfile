# syntax=docker/dockerfile:1
# Monitor's image: the built wheel with its [server] extra, served by gunicorn with the shipped
# settings (monitor/gunicorn_conf.py). docs/deploy.md runs it with compose.yaml.
#
#   docker build -t monitor .
#
# Nothing secret is in the image: SECRET_KEY, DATABASE_URL, MAIL_* and the rest come from the
# environment when a container starts (compose.yaml reads them from .env; deploy/env.example
# lists every one). The same image runs the migrations and the runners with another command:
#   flask --app monitor db upgrade | send-nudges --loop | deliver-mail --loop

# --- Build: the project's wheel and a wheel of every dependency, so the runtime stage needs
# neither the source tree nor a compiler nor the network.
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
# Only what the wheel is built from, and the lock (.dockerignore keeps everything else out).
COPY requirements/app.txt requirements/build.txt ./requirements/
COPY pyproject.toml ./
COPY monitor ./monitor
# Every dependency at the locked version, each file checked against its hash; the project's own
# wheel built with the locked setuptools, without fetching build tools unchecked. --no-deps: the
# locks are taken as they are (why: tests/test_supply_chain.py); the runtime stage's install,
# from these wheels alone, proves they satisfy one another.
RUN pip install --no-deps --require-hashes --only-binary :all: -r requirements/build.txt \
 && pip wheel --wheel-dir /wheels --no-deps --require-hashes --only-binary :all: -r requirements/app.txt \
 && pip wheel --wheel-dir /wheels --no-deps --no-build-isolation .

# --- Runtime: slim Python, the wheel installed in a virtual environment, a user without a login.
FROM python:3.11-slim-bookworm AS runtime
ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    VIRTUAL_ENV=/opt/monitor \
    PATH=/opt/monitor/bin:$PATH \
    # gunicorn binds 0.0.0.0:$PORT when PORT is set, and starts WEB_CONCURRENCY workers:
    # both can be changed when the container is started, without another image.
    PORT=8000 \
    WEB_CONCURRENCY=2
RUN groupadd --system --gid 10001 monitor \
 && useradd --system --uid 10001 --gid monitor --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin monitor
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv /opt/monitor \
 && /opt/monitor/bin/pip install --no-index --find-links /wheels "monitor[server]" \
 # Flask's instance folder of an installed app is <prefix>/var/monitor-instance: the static
 # cache is written there at start-up, so it belongs to the app's user (0700, private_files.py).
 && install -d -o monitor -g monitor -m 0700 /opt/monitor/var/monitor-instance
# Not a folder holding monitor/: `flask --app monitor` imports from the working folder first.
WORKDIR /opt/monitor
USER monitor:monitor
EXPOSE 8000
# The runners (send-nudges, deliver-mail) serve nothing: compose.yaml turns this off for them.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]
# No gunicorn access log: with LOG_FORMAT=json the app writes one line per request itself, with
# the route pattern rather than the address. Heartbeat files in memory, not on the overlay disk.
CMD ["gunicorn", "-c", "python:monitor.gunicorn_conf", "--worker-tmp-dir", "/dev/shm", "monitor:create_app()"]
