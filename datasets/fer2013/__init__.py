"""FER-2013 and FER+ builder."""
