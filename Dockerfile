# One image for every Python service of the project; docker-compose.yml picks the service by command
# (`python -m agent`, `python -m lab.target`, `python -m exporters`, ...).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LITELLM_LOCAL_MODEL_COST_MAP=True

WORKDIR /app

# Dependencies first, so a code change does not reinstall them: install the project once with its
# metadata only, then again with the code (the second install reuses every wheel). The image runs the
# lab's services too, so it takes the `lab` extra; an agent-only image would install `.` alone.
COPY pyproject.toml README.md ./
RUN mkdir -p agent lab exporters && touch agent/__init__.py lab/__init__.py exporters/__init__.py \
    && pip install '.[lab]' && pip uninstall -y sre-agent && rm -rf agent lab exporters build *.egg-info

COPY agent ./agent
COPY lab ./lab
COPY exporters ./exporters
RUN pip install --no-deps . && rm -rf build *.egg-info
COPY runbooks ./runbooks

# An unprivileged user; the data folders exist in the image so fresh named volumes inherit the owner.
RUN useradd --system --uid 10001 --home-dir /app sre \
    && mkdir -p /data/target /data/agent /data/action /var/log/target \
    && chown -R sre /data /var/log/target
USER sre

CMD ["python", "-m", "agent"]
