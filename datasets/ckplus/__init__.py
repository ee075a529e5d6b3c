"""CK+ (extended Cohn-Kanade) builder."""
