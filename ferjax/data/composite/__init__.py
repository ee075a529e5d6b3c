"""FERAtt's synthetic compositing renderer (paper §3.4), one small module per part.

A face image and its face mask are placed on a background under a random similarity transform
plus a 3-point affine warp, the face's Lab luminance is matched to the background under it, an
alpha matte blends the two, and photometric augmentation follows (grey, CLAHE, noise, blur).
Alongside the composite it returns the face-only target (the warped face on black, without the
illumination change) and the warped mask, all in the same frame, for FERAtt's attention loss.

  settings            CompositeSettings, the harder evaluation geometry, config.data.composite
                      → settings
  background_sources  where backgrounds come from: procedural (ferjax.synth.backgrounds),
                      FERSynth's, an image stack or an image folder
  render              the pure renderer: geometry, luminance, matte, photometry
  transform           CompositeTransform, the renderer as a grain random transform
  sources             CompositeSource / FaceTargetSource and the input pipeline's hook

Use: `grain.MapDataset.source(records).random_map(CompositeTransform(settings, backgrounds),
seed=s)`; grain derives each element's generator from (seed, index), so a given (seed, index)
renders the same image on every run, worker count and epoch order.
"""
