"""One-stop-system simulator: deterministic dossiers, an HTTP API and XLSX exports."""
