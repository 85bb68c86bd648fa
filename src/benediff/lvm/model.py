"""The behaviour-informed beta-TC sequential VAE (docs/METHOD.md §2) as a LatentModel estimator."""

import functools
import warnings
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.autograd.function import once_differentiable

from benediff.checkpoint import load_model_file, save_model_file
from benediff.device import torch_device
from benediff.lvm.base import LatentModel, LatentModelError, check_trials
from benediff.lvm.tc import ESTIMATORS

RUNTIME_KEYS = ("device", "checkpoint_dir", "checkpoint_every", "progress", "rnn")
RNN_IMPLS = ("fused", "native")


@dataclass
class VAEParams:
    """Hyper-parameters of BehaviorVAE (built by it; its signature holds the defaults).

    ``fingerprint`` keys decide checkpoint compatibility.
    """

    n_unsupervised: int
    hidden: int | None  # None: the region's dimension N
    layers: int
    dropout: float
    use_behavior: bool
    beta: float
    tc_estimator: str
    tc_max_samples: int
    x_weight: float
    behavior_weight: float
    kl_weight: float
    warmup_epochs: int
    max_epochs: int
    patience: int
    min_delta: float  # relative validation improvement that restarts the patience count
    batch_size: int
    lr: float
    seed: int
    # run-time settings: they do not change the result, so they are not fingerprinted
    device: str
    checkpoint_dir: str | None
    checkpoint_every: int
    progress: bool | None
    # "fused": on CPU the GRUs run through fused_gru (same weights and maths, float rounding
    # aside; the fit ~3x faster at paper size); "native": nn.GRU (BehaviorVAE's docstring)
    rnn: str = "fused"

    def fingerprint(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in RUNTIME_KEYS}


def _gru_forward_steps(gi: torch.Tensor, w_hh: torch.Tensor, b_hh: torch.Tensor):
    """The recurrence of :class:`_FusedGRULayer`: gi (D, L, B, 3H) input projections in each
    direction's own time -> states (L+1, D, B, H), n's hidden projections (L, D, B, H), r|z
    gates (L, D, B, 2H) and candidates n (L, D, B, H), written in place (time-major, so each
    step's slot is contiguous; fresh tensors per step cost more in page faults than the maths)."""
    n_dir, length, batch = gi.shape[0], gi.shape[1], gi.shape[2]
    hid = w_hh.shape[2]
    w_t = w_hh.transpose(1, 2)
    bias = b_hh.unsqueeze(1).expand(n_dir, batch, 3 * hid)
    gi_rz, gi_n = gi[:, :, :, : 2 * hid], gi[:, :, :, 2 * hid:]
    hs = gi.new_zeros(length + 1, n_dir, batch, hid)
    ghn = gi.new_empty(length, n_dir, batch, hid)
    rzs = gi.new_empty(length, n_dir, batch, 2 * hid)
    ns = gi.new_empty(length, n_dir, batch, hid)
    h = hs[0]
    for t in range(length):  # few calls per step: at these sizes each costs more than its maths
        g_h = torch.baddbmm(bias, h, w_t)
        gh_rz, gh_n = g_h.split([2 * hid, hid], 2)
        rz = torch.sigmoid(gi_rz.select(1, t) + gh_rz, out=rzs[t])
        r, z = rz.chunk(2, 2)
        n = torch.tanh(torch.addcmul(gi_n.select(1, t), r, gh_n), out=ns[t])
        ghn[t].copy_(gh_n)
        h = torch.lerp(n, h, z, out=hs[t + 1])  # (1 - z) n + z h
    return hs, ghn, rzs, ns


def _gru_states(gi: torch.Tensor, w_hh: torch.Tensor, b_hh: torch.Tensor):
    """:func:`_gru_forward_steps` without gradients: the states (D, L, B, H) only."""
    n_dir, length, batch = gi.shape[0], gi.shape[1], gi.shape[2]
    hid = w_hh.shape[2]
    w_t = w_hh.transpose(1, 2)
    bias = b_hh.unsqueeze(1).expand(n_dir, batch, 3 * hid)
    gi_rz, gi_n = gi[:, :, :, : 2 * hid], gi[:, :, :, 2 * hid:]
    h = gi.new_zeros(n_dir, batch, hid)
    hs: list[torch.Tensor] = []
    for t in range(length):
        g_h = torch.baddbmm(bias, h, w_t)
        gh_rz, gh_n = g_h.split([2 * hid, hid], 2)
        r, z = torch.sigmoid(gi_rz.select(1, t) + gh_rz).chunk(2, 2)
        n = torch.tanh(torch.addcmul(gi_n.select(1, t), r, gh_n))
        h = torch.lerp(n, h, z)
        hs.append(h)
    return torch.stack(hs, 1)


def _gru_backward_steps(dy: torch.Tensor, coef: torch.Tensor, z: torch.Tensor,
                        w_hh: torch.Tensor):
    """Back through the recurrence, time-major: dy (L, D, B, H) output gradients, coef
    (L, D, B, 3, H) the hidden-projection gradients per unit of state gradient, z (L, D, B, H)
    -> gradients of the hidden projections (L, D, B, 3H) and of the states (L, D, B, H)."""
    length, n_dir, batch, hid = dy.shape[0], dy.shape[1], dy.shape[2], dy.shape[3]
    dgh = dy.new_empty(length, n_dir, batch, 3 * hid)
    dhs = dy.new_empty(length, n_dir, batch, hid)
    dh = dhs[length - 1]
    dh.copy_(dy[length - 1])
    for t in range(length - 1, -1, -1):
        dg = torch.mul(dh.unsqueeze(2), coef[t], out=dgh[t].view(n_dir, batch, 3, hid))
        if t > 0:  # dh of step t-1: its output gradient + through z and through the projection
            dh = torch.baddbmm(torch.addcmul(dy[t - 1], dh, z[t]),
                               dg.view(n_dir, batch, 3 * hid), w_hh, out=dhs[t - 1])
    return dgh, dhs


@functools.cache
def _steps():
    """The three recurrences compiled by TorchScript (the loop runs in C++: fewer microseconds
    per step than Python's), or the Python functions if scripting is unavailable."""
    python = _gru_forward_steps, _gru_backward_steps, _gru_states
    try:
        with warnings.catch_warnings():  # torch >= 2.10 flags torch.jit.script as deprecated
            warnings.simplefilter("ignore", DeprecationWarning)
            return tuple(torch.jit.script(f) for f in python)
    except Exception:  # noqa: BLE001 (TorchScript missing or removed: same maths in Python)
        return python


class _FusedGRULayer(torch.autograd.Function):
    """One GRU layer, all its directions stepped together, with a hand-written backward.

    Same equations and gate order (r, z, n) as ``nn.GRU`` and a zero initial state. On CPU,
    torch's GRU records ~15 autograd nodes per time step and direction and its backward walks
    them one by one; here the forward steps both directions at once (one ``baddbmm`` and five
    element-wise ops per step) and keeps the gates, the backward needs one multiply and one
    ``baddbmm`` per step, and all input and weight gradients are taken in bulk after the loop.

    x (B, L, I); w_ih (D, 3H, I); w_hh (D, 3H, H); b_ih, b_hh (D, 3H); D = 1 or 2 (direction 1
    runs backwards in time). Returns (B, L, D*H) like ``nn.GRU``'s output.
    """

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh):
        xs, gi = _input_projection(x, w_ih, b_ih)
        hs, ghn, rz, ns = _steps()[0](gi, w_hh, b_hh)
        ctx.save_for_backward(xs, w_ih, w_hh, hs, ghn, rz, ns)
        return _output(hs[1:].transpose(0, 1))

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        xs, w_ih, w_hh, hs, ghn, rz, ns = ctx.saved_tensors  # gates and states time-major
        length, n_dir, batch, hid = ns.shape
        g = grad_out.transpose(0, 1)  # (L, B, D*H)
        dy = (g[:, None] if n_dir == 1 else
              torch.stack([g[..., :hid], g[..., hid:].flip(0)], dim=1)).contiguous()
        r, z, h_prev = rz[..., :hid], rz[..., hid:], hs[:-1]
        # per gate r, z, n: d(hidden projection) / d(state), written in place
        coef = ns.new_empty(length, n_dir, batch, 3, hid)
        c_r, c_z, c_n = coef.unbind(3)
        omz = 1 - z
        b = torch.addcmul(omz, omz * ns, ns, value=-1)  # d(n's pre-activation)/dh = (1-z)(1-n²)
        torch.mul(b, r, out=c_n)
        c_r_ = c_n * ghn
        torch.addcmul(c_r_, c_r_, r, value=-1, out=c_r)  # b r ghn (1 - r)
        torch.mul((h_prev - ns) * z, omz, out=c_z)  # (h - n) z (1 - z)
        dgh, dhs = _steps()[1](dy, coef, z.contiguous(), w_hh)
        # direction-major for the bulk products: (D, L*B, .)
        rows = n_dir, length * batch
        dgh = dgh.transpose(0, 1).reshape(*rows, 3 * hid)
        dgi_n = (dhs * b).transpose(0, 1).reshape(*rows, hid)
        dgi_rz = dgh[..., : 2 * hid]  # d(input projection) of r, z; n's is dgi_n
        h_prev = h_prev.transpose(0, 1).reshape(*rows, hid)
        grad_w_hh = torch.bmm(dgh.transpose(1, 2), h_prev)
        grad_b_hh = dgh.sum(1)
        grad_b_ih = torch.cat([grad_b_hh[:, : 2 * hid], dgi_n.sum(1)], dim=1)
        grad_w_ih = torch.cat([torch.bmm(dgi_rz.transpose(1, 2), xs),
                               torch.bmm(dgi_n.transpose(1, 2), xs)], dim=1)
        grad_x = None
        if ctx.needs_input_grad[0]:
            dxs = torch.baddbmm(torch.bmm(dgi_n, w_ih[:, 2 * hid:]), dgi_rz,
                                w_ih[:, : 2 * hid]).view(n_dir, length, batch, -1)
            dx = dxs[0] if n_dir == 1 else dxs[0] + dxs[1].flip(0)
            grad_x = dx.transpose(0, 1)
        return grad_x, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh


def _input_projection(x, w_ih, b_ih):
    """x (B, L, I) -> the input in each direction's own time (D, L*B, I) and its projections
    (D, L, B, 3H)."""
    n_dir, three_h, n_in = w_ih.shape
    batch, length, _ = x.shape
    xt = x.transpose(0, 1)  # (L, B, I)
    xs = (xt[None] if n_dir == 1 else torch.stack([xt, xt.flip(0)])).reshape(
        n_dir, length * batch, n_in)
    gi = torch.baddbmm(b_ih[:, None, :], xs, w_ih.transpose(1, 2))
    return xs, gi.view(n_dir, length, batch, three_h)


def _output(states):
    """(D, L, B, H) states in each direction's own time -> (B, L, D*H) in input time."""
    out = states[0] if states.shape[0] == 1 else torch.cat([states[0], states[1].flip(0)], dim=-1)
    return out.transpose(0, 1).contiguous()


def fused_gru(rnn: nn.GRU, x):
    """``rnn(x)[0]`` (zero initial state, batch_first) through :class:`_FusedGRULayer`, with the
    module's own parameters and its dropout between layers."""
    if not rnn.batch_first or rnn.proj_size or not rnn.bias:
        raise LatentModelError("fused_gru supports batch_first GRUs with biases, no projection")
    suffixes = [""] + (["_reverse"] if rnn.bidirectional else [])
    out = x
    for layer in range(rnn.num_layers):
        if layer and rnn.dropout and rnn.training:
            out = nn.functional.dropout(out, rnn.dropout, training=True)
        weights = [torch.stack([getattr(rnn, f"{name}_l{layer}{sfx}") for sfx in suffixes])
                   for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        if torch.is_grad_enabled():
            out = _FusedGRULayer.apply(out, *weights)
        else:  # inference: no gates kept
            w_ih, w_hh, b_ih, b_hh = weights
            out = _output(_steps()[2](_input_projection(out, w_ih, b_ih)[1], w_hh, b_hh))
    return out


class SeqVAENet(nn.Module):
    """Bidirectional-GRU encoder q(Z|X) and decoder p(X|Z), plus the diagonal behaviour map."""

    def __init__(self, n_neural: int, n_behavior: int, n_unsupervised: int, hidden: int,
                 layers: int, dropout: float, fused_rnn: bool = True):
        super().__init__()
        self.n_behavior = n_behavior
        self.fused_rnn = fused_rnn
        n_latent = n_behavior + n_unsupervised
        gru_dropout = dropout if layers > 1 else 0.0
        self.enc_in = nn.Sequential(nn.Linear(n_neural, hidden), nn.ReLU(), nn.Dropout(dropout))
        self.enc_rnn = nn.GRU(hidden, hidden, layers, batch_first=True, bidirectional=True,
                              dropout=gru_dropout)
        self.enc_out = nn.Linear(2 * hidden, 2 * n_latent)
        self.dec_in = nn.Sequential(nn.Linear(n_latent, hidden), nn.ReLU(), nn.Dropout(dropout))
        self.dec_rnn = nn.GRU(hidden, hidden, layers, batch_first=True, bidirectional=True,
                              dropout=gru_dropout)
        self.dec_out = nn.Linear(2 * hidden, n_neural)
        # û_b = w_b z_b + c_b: one gain per supervised latent, no mixing across latents
        self.beh_gain = nn.Parameter(torch.ones(n_behavior))
        self.beh_bias = nn.Parameter(torch.zeros(n_behavior))

    def _rnn(self, rnn: nn.GRU, x):
        if self.fused_rnn and x.device.type == "cpu":
            return fused_gru(rnn, x)
        return rnn(x)[0]

    def encode(self, x):
        h = self._rnn(self.enc_rnn, self.enc_in(x))
        mu, logvar = self.enc_out(h).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z):
        h = self._rnn(self.dec_rnn, self.dec_in(z))
        return self.dec_out(h)

    def predict_behavior(self, z):
        return z[..., : self.n_behavior] * self.beh_gain + self.beh_bias


def stack_trials(X, what="X") -> np.ndarray:
    lengths = {x.shape[0] for x in X}
    if len(lengths) != 1:
        raise LatentModelError(f"{what}: trials have different lengths {sorted(lengths)}; "
                               "the sequential VAE needs equal-length trials")
    return np.stack([np.asarray(x, dtype=np.float32) for x in X])


class BehaviorVAE(LatentModel):
    """Behaviour-informed, disentangled sequential VAE (one per region).

    Latents 0..B-1 are tied to behaviours 0..B-1 through a diagonal map; ``n_unsupervised``
    extra latents have no behaviour term. ``use_behavior=False`` and ``beta=0`` give the
    ablations (standard VAE: both).
    """

    def __init__(self, *, n_unsupervised: int = 0, hidden: int | None = 0, layers: int = 1,
                 dropout: float = 0.1, use_behavior: bool = True, beta: float = 4.0,
                 tc_estimator: str = "mws", tc_max_samples: int = 256, x_weight: float = 40.0,
                 behavior_weight: float = 10.0, kl_weight: float = 1.0, warmup_epochs: int = 10,
                 max_epochs: int = 200, patience: int = 20, min_delta: float = 0.01,
                 batch_size: int = 32, lr: float = 3e-3, seed: int = 0, device: str = "cpu",
                 checkpoint_dir: str | None = None, checkpoint_every: int = 5,
                 progress: bool | None = None, rnn: str = "fused"):
        """Defaults are the config's (``lvm`` in the schema); ``hidden`` 0 or None = N.

        ``rnn``: "fused" (default): on CPU the GRUs run through :func:`fused_gru` (training and
        inference) and Adam is the fused kernel; "native": ``nn.GRU`` and the per-parameter Adam
        (the path before #27, kept for ``benchmarks/bench_lvm_fit.py``). CUDA always runs
        ``nn.GRU`` (cuDNN). A run-time choice: the results differ by float rounding only."""
        self.params = VAEParams(
            n_unsupervised=n_unsupervised, hidden=hidden or None, layers=layers, dropout=dropout,
            use_behavior=use_behavior, beta=beta, tc_estimator=tc_estimator,
            tc_max_samples=tc_max_samples, x_weight=x_weight, behavior_weight=behavior_weight,
            kl_weight=kl_weight, warmup_epochs=warmup_epochs, max_epochs=max_epochs,
            patience=patience, min_delta=min_delta, batch_size=batch_size, lr=lr, seed=seed,
            device=device, checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every,
            progress=progress, rnn=rnn)
        if rnn not in RNN_IMPLS:
            raise LatentModelError(f"rnn {rnn!r} unknown; allowed: {list(RNN_IMPLS)}")
        if self.params.tc_estimator not in ESTIMATORS:
            raise LatentModelError(f"tc_estimator {self.params.tc_estimator!r} unknown; "
                                   f"allowed: {list(ESTIMATORS)}")

    def get_params(self) -> dict:
        return self.params.fingerprint() | {"device": self.params.device}

    def _build(self, n_neural: int, n_behavior: int) -> SeqVAENet:
        p = self.params
        n_latent = n_behavior + p.n_unsupervised
        if n_neural < n_latent:
            raise LatentModelError(
                f"region has {n_neural} neural dims but the model has {n_latent} latents "
                f"({n_behavior} behaviours + {p.n_unsupervised} unsupervised); "
                "lower lvm.n_unsupervised or use a larger region")
        torch.manual_seed(p.seed)
        return SeqVAENet(n_neural, n_behavior, p.n_unsupervised, p.hidden or n_neural,
                         p.layers, p.dropout, fused_rnn=p.rnn == "fused")

    def fit(self, X, U, X_val=None, U_val=None) -> "BehaviorVAE":
        from benediff.lvm.train import train

        check_trials(X, U, "training trials")
        if X_val is not None:
            check_trials(X_val, U_val, "validation trials")
        x, u = stack_trials(X), stack_trials(U, "U")
        xv = None if X_val is None else stack_trials(X_val, "X_val")
        uv = None if U_val is None else stack_trials(U_val, "U_val")
        self.n_neural_, self.n_behavior_ = x.shape[2], u.shape[2]
        self.device_ = torch_device(self.params.device)
        self.net_ = self._build(self.n_neural_, self.n_behavior_).to(self.device_)
        self.history_ = train(self.net_, x, u, xv, uv, self.params, self.device_)
        self.best_epoch_ = min(self.history_, key=lambda h: h["val_loss"])["epoch"] if self.history_ else 0
        return self

    @property
    def n_latents_(self) -> int:
        return self.n_behavior_ + self.params.n_unsupervised

    @torch.no_grad()
    def _run(self, X, fn):
        check_trials(X, None, "X")
        self.net_.eval()
        out = []
        for x in X:
            xt = torch.as_tensor(np.asarray(x, dtype=np.float32), device=self.device_)[None]
            out.append(fn(xt)[0].cpu().numpy())
        return out

    def transform(self, X):
        return self._run(X, lambda x: self.net_.encode(x)[0])

    def reconstruct(self, X):
        return self._run(X, lambda x: self.net_.decode(self.net_.encode(x)[0]))

    def predict_behavior(self, X):
        """Per-trial behaviour predicted from the supervised latents (L, B)."""
        return self._run(X, lambda x: self.net_.predict_behavior(self.net_.encode(x)[0]))

    def save(self, path) -> None:
        """The model file (:func:`benediff.checkpoint.save_model_file`, kind "vae")."""
        save_model_file(path, "vae", params=self.get_params(), n_neural=self.n_neural_,
                        n_behavior=self.n_behavior_, state_dict=self.net_.state_dict(),
                        history=self.history_)

    @classmethod
    def load(cls, path, device="cpu") -> "BehaviorVAE":
        # files written before the model files had a kind are VAE files too
        blob = load_model_file(path, ("vae",), default_kind="vae", error=LatentModelError)
        est = cls(**(blob["params"] | {"device": device}))
        est.n_neural_, est.n_behavior_ = blob["n_neural"], blob["n_behavior"]
        est.device_ = torch_device(device)
        est.net_ = est._build(est.n_neural_, est.n_behavior_).to(est.device_)
        est.net_.load_state_dict(blob["state_dict"])
        est.history_ = blob["history"]
        est.best_epoch_ = min(est.history_, key=lambda h: h["val_loss"])["epoch"] if est.history_ else 0
        return est
