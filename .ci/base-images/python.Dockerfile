FROM local/debian:bookworm
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      ca-certificates libssl3 libffi8 libsqlite3-0 libbz2-1.0 liblzma5 zlib1g libreadline8 \
      libncursesw6 libuuid1 libgdbm6 libexpat1 \
 && rm -rf /var/lib/apt/lists/*
ADD python.tar /usr/local/
RUN ldconfig && ln -sf python3.12 /usr/local/bin/python3 && python3.12 -c "import ssl, sqlite3, ctypes, venv"
