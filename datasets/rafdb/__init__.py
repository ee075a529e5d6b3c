"""RAF-DB (basic) builder."""
