"""Video stage: frame autoencoder, (2+1)D video UNet, diffusion process, training and sampling.

Kept free of heavy imports: import the submodules (``benediff.video.unet3d`` …) directly.
"""
