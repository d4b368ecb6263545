"""What MWAA DOES when a component starts; pure Python, testable without Docker."""
