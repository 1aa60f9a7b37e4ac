"""Programme indicators and the semi-annual implementation status report (XLSX and PDF)."""
