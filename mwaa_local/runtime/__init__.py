"""Where components run: the runtimes behind one interface (docker, podman, host), the engine
connection, the image build, the compose project and the state folder."""
