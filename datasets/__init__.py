"""TFDS builders of ferjax, one package per dataset: builder, layout and label table, protocol.

Imported as `ferjax.datasets` (ferjax/datasets links to this folder, so a source checkout and
an installed wheel import the same names), never as `datasets`, which is Hugging Face's
package name.
"""
