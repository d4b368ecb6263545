"""Code that runs only inside the Airflow image."""
