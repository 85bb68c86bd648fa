"""Neural latent models: the behaviour-informed beta-TC sequential VAE, its data and evaluation."""
