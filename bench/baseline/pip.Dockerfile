# Baseline for bench/build_image.py: how the anchors build, pip installing Airflow with the
# official constraints into a plain image (aws-mwaa-local-runner and amazon-mwaa-docker-images
# both use pip). Same base, same packages, same constraints as the mwaa-local image.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG PYTHON_VERSION
ARG AIRFLOW_PACKAGES
COPY constraints.txt ca-bundle.pem /tmp/
ENV PIP_CERT=/tmp/ca-bundle.pem
RUN python${PYTHON_VERSION} -m venv /opt/airflow \
 && /opt/airflow/bin/pip install -q --constraint /tmp/constraints.txt \
      ${AIRFLOW_PACKAGES} \
 && /opt/airflow/bin/airflow version
