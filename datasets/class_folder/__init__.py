"""Generic class-folder builder (CK+48, FER-2013 image folders, any root/<class>/<image>)."""
