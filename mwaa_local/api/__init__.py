"""The MWAA control-plane API on localhost, with the web server's CLI and login endpoints."""
