"""Where components run: the Docker engine, the image build and the compose project."""
