# The desk's one image: the web desk, workers and one-off commands (see compose.yaml).
FROM python:3.12-slim
WORKDIR /src
COPY pyproject.toml README.md ./
COPY factcheck ./factcheck
COPY migrations ./migrations
COPY claims ./claims
COPY evidence ./evidence
RUN pip install --no-cache-dir . && rm -rf /src
# the desk folder: factcheck.toml, the evidence archive (WARC files) and audit-head.json, shared by every
# container of the desk (a volume here; a shared file system when workers run on several machines)
ENV FACTCHECK_DIR=/desk
WORKDIR /desk
ENTRYPOINT ["factcheck"]
CMD ["--help"]
