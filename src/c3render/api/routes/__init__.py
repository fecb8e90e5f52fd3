"""The API's blueprints: jobs (submit, status, result, control, list), files (signed
links, uploads), health and docs."""
