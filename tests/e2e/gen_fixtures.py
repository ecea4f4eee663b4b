#!/usr/bin/python3
"""gen_fixtures.py: reference numbers for nnc's end-to-end tests, by PyTorch.

Run by hand (CI has no torch), from anywhere, with the Python that has torch:

    /usr/bin/python3 tests/e2e/gen_fixtures.py [MODEL ...]

For each model tests/e2e/models/NAME.nn this script computes, in float64, the
same computation written independently in PyTorch, and writes beside the model
three files that are committed and read at test time by the C programs:

  fixtures/NAME.fix   the reference numbers, read by harness.c
  models/NAME.defs    the `-D NAME=VALUE` options nnc compiles the model with
  models/NAME.gc      how gradcheck_main.c draws inputs for the f64 gradient check

The declarations (names, roles, types, dims, hyper defaults, output list,
objective, optimizer) are read from the .nn file itself, so only the values
and the forward computation are written here.  Random values are drawn from a
numpy RandomState seeded by the model's name, rounded to float32 for f32
tensors (so that float32 generated code and the float64 reference start from
the same numbers); a model whose guards fail (a relu argument too close to 0,
two candidates for a max too close to call in float32) is redrawn with the
next seed.  Rerunning the script rewrites identical files.

Fixture format (version 1).  A text file of whitespace-separated tokens;
`#` starts a comment that runs to the end of the line.  Records, in order:

  nnc-fixture 1
  model NAME                    the model's name (descriptor's name)
  define NAME VALUE             one per -D override the model was compiled with
  objective NAME                the minimized output
  optimizer none | optimizer sgd LR MOMENTUM | optimizer adam | optimizer adamw
                                (sgd's values used; the others' arguments are
                                in the .nn file, which the C side compiles)
  steps N                       train steps recorded (0 without an optimizer)
  order NAME ...                the tensors in declaration order, objective excepted
  hyperdefault NAME VALUE       one per hyper: its default in the .nn
  range NAME LO HI              an i32 input used as class labels: valid in [LO, HI)
  tensor KIND NAME DTYPE RANK D0 .. D(RANK-1)
    followed by D0*..*D(RANK-1) values (1 for RANK 0), row-major, %.17g
    (integers for i32).  KIND is one of
      param         the params to set before every call
      input, hyper  the inputs and hypers to set (after set_defaults)
      output        forward's outputs, the objective included
      grad          backward's dJ/dparam, one per param
      stepK.output  what train step K (1-based) reports: computed before its update
      stepK.param   the params after K train steps from zeroed optimizer state
    DTYPE is f32, f64 or i32 as declared in the .nn (outputs: i32 for argmax,
    else the model's float type); float values are the float64 reference.
  end

.defs: one `-D NAME=VALUE` per line, `#` comments.  .gc: lines
`seeds N`, `eps X`, `atol X`, `rtol X`, `coords N` (nnrt_gradcheck's options), and `input NAME uniform LO HI` or
`input NAME int LO HI` (HI excluded) for every input; `#` comments.

PyTorch conventions pinned by the reference: relu'(0) = 0, abs'(0) = 0,
leaky_relu'(0) = negative_slope, elu'(0) = alpha, max and min (over all
elements, an axis or several) send the gradient to the first extremum, the
first NaN if there is one (written out below: torch.max over all elements
would split it), torch.maximum/minimum split the gradient of a tie, clamp
passes it at its bounds; the optimizers are torch.optim.SGD, Adam and AdamW
with the .nn file's arguments.  A NaN in a reference matches a NaN.
"""

import os
import re
import sys
import zlib

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, 'models')
FIXTURES = os.path.join(HERE, 'fixtures')
STEPS = 3

torch.set_default_dtype(torch.float64)
torch.set_num_threads(1)


# ---- reading the declarations of a .nn file ----

DTYPES = ('f32', 'f64', 'i32')


class Decl:
    """The declarations of one .nn file, with consts after -D overrides."""

    def __init__(self, path, defines):
        self.name = os.path.splitext(os.path.basename(path))[0]
        self.consts = {}
        self.tensors = []          # (role, name, dtype, shape) in declaration order
        self.defaults = {}         # hyper -> default value
        self.state_init = {}       # state -> the constant init fills it with
        self.outputs = []
        self.objective = None
        self.optimizer = None      # (name, {argument: a number or a hyper name})
        with open(path) as f:
            text = f.read()
        for line in text.split('\n'):
            line = line.split('#', 1)[0].strip()
            self._statement(line, defines)
        for k in defines:
            if k not in self.consts:
                raise SystemExit('%s: -D %s names no const' % (path, k))

    def _shape(self, dims):
        if dims is None:
            return ()
        env = dict(self.consts)
        env['__builtins__'] = {}
        return tuple(int(eval(d, env)) for d in dims.split(','))

    def _statement(self, s, defines):
        m = re.match(r'model\s+(\w+)$', s)
        if m:
            self.name = m.group(1)
            return
        m = re.match(r'const\s+(\w+)\s*=\s*(.+)$', s)
        if m:
            name = m.group(1)
            if name in defines:
                self.consts[name] = int(defines[name])
            else:
                env = dict(self.consts)
                env['__builtins__'] = {}
                self.consts[name] = int(eval(m.group(2), env))
            return
        m = re.match(r'(input|param|hyper|state)\s+(\w+)\s*:\s*(f32|f64|i32)\s*'
                     r'(?:\[([^\]]*)\])?\s*(?:=\s*(.+))?$', s)
        if m:
            role, name, dtype, dims, init = m.groups()
            self.tensors.append((role, name, dtype, self._shape(dims)))
            if role == 'hyper':
                self.defaults[name] = float(init)
            if role == 'state':
                if init not in (None, 'zeros()', 'ones()'):
                    raise SystemExit('state %s: only zeros() and ones() are modelled' % name)
                self.state_init[name] = 1.0 if init == 'ones()' else 0.0
            return
        m = re.match(r'output\s+(.+)$', s)
        if m:
            self.outputs += [o.strip() for o in m.group(1).split(',')]
            return
        m = re.match(r'minimize\s+(\w+)$', s)
        if m:
            self.objective = m.group(1)
            return
        m = re.match(r'optimizer\s+(\w+)\s*\((.*)\)$', s)
        if m:
            args = dict(re.match(r'\s*(\w+)\s*=\s*(\S+)\s*$', a).groups()
                        for a in m.group(2).split(','))
            self.optimizer = (m.group(1), args)

    def role(self, role):
        return [t for t in self.tensors if t[0] == role]

    @property
    def float_dtype(self):
        fl = [t[2] for t in self.tensors if t[2] != 'i32']
        return 'f64' if fl and all(d == 'f64' for d in fl) else 'f32'


# ---- what a model spec is made of ----

def uniform(lo, hi):
    return lambda rng, shape: rng.uniform(lo, hi, size=shape)


def normal(std, mean=0.0):
    return lambda rng, shape: rng.normal(mean, std, size=shape)


def away(lo, hi):
    """Uniform magnitudes in [lo, hi], random signs."""
    def gen(rng, shape):
        mag = rng.uniform(lo, hi, size=shape)
        return np.where(rng.uniform(size=shape) < 0.5, -mag, mag)
    return gen


def fixed(values):
    return lambda rng, shape: np.array(values, dtype=np.float64).reshape(shape)


def patched(gen, patches):
    """gen, then the entries of patches (index tuple -> value, or -> another
    index whose value is copied: a tie)."""
    def g(rng, shape):
        a = gen(rng, shape)
        for idx, v in patches.items():
            a[idx] = a[v] if isinstance(v, tuple) else v
        return a
    return g


def labels(values):
    return lambda rng, shape: np.array(values, dtype=np.int64).reshape(shape)


class Spec:
    def __init__(self, name, forward, defines=None, values=None, hypers=None,
                 classes=None, gc=None, gc_coords=None, post=None, steps=STEPS):
        self.name = name
        self.steps = steps              # train steps recorded
        self.forward = forward
        self.defines = defines or {}
        self.values = values or {}      # param/input -> generator(rng, shape)
        self.hypers = hypers or {}      # hyper -> value used (default: its default)
        self.classes = classes or {}    # i32 input -> number of classes
        self.gc = gc or {}              # float input -> (lo, hi) for the gradient check
        self.gc_coords = gc_coords      # coordinates checked of a larger param (default: all)
        self.post = post                # post(vals): ties across tensors, after drawing


SPECS = {}


def spec(name, **kw):
    def reg(fn):
        SPECS[name] = Spec(name, fn, **kw)
        return fn
    return reg


class Guard:
    """Conditions the drawn values must meet for float32 code to take the
    same branches as the float64 reference."""

    def __init__(self):
        self.failed = []

    def away(self, what, t, margin):
        """Every element of t at least margin away from 0 (a kink)."""
        v = float(t.detach().abs().min())
        if v < margin:
            self.failed.append('%s: |x| = %g < %g' % (what, v, margin))

    def gap(self, what, t, dim, margin):
        """The largest element along dim (all: None) at least margin above
        the second largest."""
        a = t.detach().numpy()
        a = a.reshape(1, -1) if dim is None else np.moveaxis(a, dim, -1)
        a = np.sort(a.reshape(-1, a.shape[-1]), axis=-1)
        if a.shape[-1] > 1:
            v = float((a[..., -1] - a[..., -2]).min())
            if v < margin:
                self.failed.append('%s: max gap %g < %g' % (what, v, margin))


# ---- reference ops, where PyTorch's own is not the convention ----

def first_max(x, axis=None, keepdims=False):
    """max whose gradient goes to the first maximal element (row-major)."""
    if axis is None:
        i = int(np.argmax(x.detach().numpy().reshape(-1)))
        return x.reshape(-1)[i]
    idx = torch.from_numpy(np.expand_dims(np.argmax(x.detach().numpy(), axis=axis), axis))
    v = torch.gather(x, axis, idx)
    return v if keepdims else v.squeeze(axis)


def argmax(x, axis):
    return torch.from_numpy(np.argmax(x.detach().numpy(), axis=axis))


def softplus(x):
    # exact log(1 + e^x) for every x (F.softplus switches to x above 20)
    return torch.logaddexp(x, torch.zeros_like(x))


def cross_entropy(logits, y):
    return F.cross_entropy(logits, y, reduction='none')


def mean_ce(logits, y):
    return cross_entropy(logits, y).mean()


# ---- the models: the forward computation of each .nn, written in PyTorch ----

@spec('mlp', defines=dict(batch=8, d=12, h=7, q=5),
      values=dict(x=normal(1.0), W1=uniform(-0.5, 0.5), W2=uniform(-0.5, 0.5)),
      hypers={'lambda': 0.01, 'lr': 0.25}, classes=dict(y=5))
def _mlp(t, g):
    z = t.x @ t.W1.T
    g.away('z', z, 1e-3)
    hid = torch.relu(z)
    o = hid @ t.W2.T
    L = mean_ce(o, t.y)
    s = t['lambda'] / 2 * ((t.W1 * t.W1).sum() + (t.W2 * t.W2).sum())
    return dict(o=o, J=L + s)


SPECS['mlp_momentum'] = Spec('mlp_momentum', _mlp, **{
    k: getattr(SPECS['mlp'], k) for k in ('defines', 'values', 'hypers', 'classes')})


def _linear_ce(t, g):
    o = t.x @ t.W.T + t.b
    return dict(o=o, J=mean_ce(o, t.y))


@spec('optim_adam', defines=dict(batch=8, d=12, h=7, q=5), steps=10,
      values=dict(x=normal(1.0), W1=uniform(-0.5, 0.5), b1=uniform(-0.5, 0.5), W2=uniform(-0.5, 0.5)),
      hypers=dict(lr=0.02), classes=dict(y=5))
def _optim_adam(t, g):
    z = t.x @ t.W1.T + t.b1
    g.away('z', z, 1e-3)
    o = torch.relu(z) @ t.W2.T
    return dict(o=o, J=mean_ce(o, t.y))


@spec('optim_adamw_f64', steps=10,
      values=dict(x=normal(1.0), W=normal(0.5), b=uniform(-0.5, 0.5)), classes=dict(y=3))
def _optim_adamw_f64(t, g):
    o = torch.tanh(t.x @ t.W.T + t.b) * 2
    return dict(o=o, J=mean_ce(o, t.y))


for _name in ('optim_sgd_nesterov', 'optim_sgd_dampening'):
    SPECS[_name] = Spec(_name, _linear_ce, steps=10, classes=dict(y=3),
                        values=dict(x=normal(1.0), W=normal(0.5), b=uniform(-0.5, 0.5)))


@spec('cross_params', steps=3, values=dict(x=normal(1.0), A=uniform(-1, 1), B=uniform(-1, 1), v=uniform(-1, 1)))
def _cross_params(t, g):
    o = t.A * t.B * t.x
    return dict(o=o, J=o.sum() + (torch.tanh(t.A * t.v) * t.B).sum())


@spec('centered_sums', values=dict(X=normal(1.0), a=uniform(0.5, 1.5), b=uniform(-1, 1),
                                    W=uniform(-1, 1), c=uniform(-1, 1)))
def _centered_sums(t, g):
    h = t.X * t.a + t.W + t.b + t.c
    v = torch.var(h, [0, 1])
    u = torch.var(h, 0)
    return dict(v=v, u=u, J=v + u.sum() + (t.c * t.c).sum())


@spec('batch_norm_2d', values=dict(x=normal(1.0), W1=uniform(-0.5, 0.5), beta=uniform(-0.5, 0.5),
                                    gamma=uniform(0.5, 1.5), W2=uniform(-0.5, 0.5)),
      hypers=dict(bn_momentum=0.25), classes=dict(y=4))
def _batch_norm_2d(t, g):
    z = F.batch_norm(t.x @ t.W1.T, t.rm, t.rv, t.gamma, t.beta, training=t.training,
                     momentum=float(t.bn_momentum))
    g.away('z', z, 1e-3)
    o = torch.relu(z) @ t.W2.T
    return dict(o=o, J=mean_ce(o, t.y))


@spec('batch_norm_4d', values=dict(x=normal(1.0), s=uniform(0.5, 1.5), W=uniform(-0.5, 0.5)),
      classes=dict(y=3))
def _batch_norm_4d(t, g):
    z = F.batch_norm(t.x * t.s + t.s * t.s, t.mean_c, t.var_c, training=t.training, momentum=0.3,
                     eps=0.01)
    o = torch.tanh(z).reshape(t.x.shape[0], -1) @ t.W.T
    return dict(o=o, J=mean_ce(o, t.y))


@spec('conv2d', values=dict(x=normal(1.0), w1=uniform(-0.5, 0.5), b1=uniform(-0.5, 0.5), w2=uniform(-0.5, 0.5),
                             w3=uniform(-0.5, 0.5), b3=uniform(-0.5, 0.5), V=uniform(-0.5, 0.5)),
      classes=dict(y=4))
def _conv2d(t, g):
    h1 = torch.tanh(F.conv2d(t.x, t.w1, t.b1, stride=2, padding=1))
    h2 = torch.tanh(F.conv2d(h1, t.w2, dilation=(2, 1), padding=(1, 0)))
    h3 = F.conv2d(h2, t.w3, t.b3, groups=2, stride=(1, 2))
    o = h3.reshape(h3.shape[0], -1) @ t.V.T
    return dict(h1=h1, h3=h3, o=o, J=mean_ce(o, t.y))


@spec('conv2d_blocks', values=dict(x=normal(1.0), w1=uniform(-0.3, 0.3), b1=uniform(-0.5, 0.5),
                                    w2=uniform(-0.3, 0.3), w3=uniform(-0.5, 0.5), x4=normal(1.0),
                                    w4=uniform(-0.3, 0.3), x5=normal(1.0), w5=uniform(-0.5, 0.5),
                                    x6=normal(1.0), w6=uniform(-0.5, 0.5)))
def _conv2d_blocks(t, g):
    h1 = torch.tanh(F.conv2d(t.x, t.w1, t.b1, padding=2))
    h2 = torch.tanh(F.conv2d(h1, t.w2, stride=2, dilation=2, padding=1))
    h3 = F.conv2d(h2, t.w3)
    h4 = F.conv2d(t.x4, t.w4, padding=2, dilation=2)
    h5 = F.conv2d(t.x5, t.w5, stride=(2, 1), padding=(1, 2), dilation=(1, 2))
    h6 = F.conv2d(t.x6, t.w6, padding=(1, 2))
    return dict(h1=h1, h3=h3, h4=h4, h5=h5, h6=h6,
                J=(h3 * h3).mean() + (h4 * h4).mean() + (h5 * h5).mean() + (h6 * h6).mean())


@spec('conv2d_weights', values=dict(x=normal(1.0), w1=uniform(-0.4, 0.4), b1=uniform(-0.5, 0.5),
                                     w2=uniform(-0.3, 0.3)))
def _conv2d_weights(t, g):
    h1 = torch.tanh(F.conv2d(t.x, t.w1, t.b1, padding=1))
    h2 = F.conv2d(h1, t.w2, stride=(2, 1), padding=(0, 2), dilation=(1, 2))
    return dict(h2=h2, J=(h2 * h2).mean())


@spec('conv2d_columns', values=dict(x=normal(1.0), w1=uniform(-0.4, 0.4), w2=uniform(-0.3, 0.3),
                                     w3=uniform(-0.3, 0.3)), gc_coords=64)
def _conv2d_columns(t, g):
    h1 = torch.tanh(F.conv2d(t.x, t.w1, padding=1))
    h2 = F.conv2d(h1, t.w2, stride=(1, 2), padding=1)
    h3 = F.conv2d(h1, t.w3, padding=(0, 1), dilation=(2, 1))
    return dict(J=(h2 * h2).mean() + (h3 * torch.sin(h3)).mean())


@spec('conv2d_same', values=dict(x=normal(1.0), w1=uniform(-0.4, 0.4), b1=uniform(-0.5, 0.5),
                                  w2=uniform(-0.3, 0.3), w3=uniform(-0.2, 0.2), w4=uniform(-0.3, 0.3),
                                  w5=uniform(-0.5, 0.5), w6=uniform(-0.2, 0.2)))
def _conv2d_same(t, g):
    h1 = torch.tanh(F.conv2d(t.x, t.w1, t.b1, padding=1))
    h2 = torch.tanh(F.conv2d(h1, t.w2, padding=1))
    h3 = torch.tanh(F.conv2d(h2, t.w3, padding=(2, 1)))
    h4 = torch.tanh(F.conv2d(h3, t.w4, padding=(2, 1), dilation=(2, 1)))
    h5 = torch.tanh(F.conv2d(h4, t.w5))
    h6 = F.conv2d(h5, t.w6, padding=1)
    return dict(h2=h2, h6=h6, J=(h6 * h6).mean())


@spec('flip', values=dict(x=normal(1.0), w=uniform(-0.5, 0.5), v=uniform(-0.5, 0.5), u=uniform(-0.5, 0.5)))
def _flip(t, g):
    h = torch.tanh(t.x @ t.w)
    a = torch.flip(h, [0]) * t.v
    b = torch.flip(h, [0, 1]) + torch.flip(t.v, [-1])
    c = torch.flip(t.u, [2, 0])
    J = (a * a).mean() + (b * torch.sin(b)).mean() + (c * torch.flip(t.u, [1])).sum() + (torch.flip(t.x, [1]) @ t.w).mean()
    return dict(a=a, b=b, c=c, J=J)


@spec('pooling', values=dict(x=normal(1.0), w=uniform(-0.5, 0.5), c=uniform(0.5, 1.5)))
def _pooling(t, g):
    z = F.conv2d(t.x, t.w) * t.c
    m1 = F.max_pool2d(z, 2)
    m2 = F.max_pool2d(z, (3, 2), stride=(2, 1), padding=1)
    a1 = F.avg_pool2d(z, 2)
    a2 = F.avg_pool2d(z, 3, stride=2, padding=1, count_include_pad=False)
    a3 = F.avg_pool2d(z, (2, 3), stride=1, padding=(1, 1))
    m3 = F.max_pool2d(z, (2, 5))
    a4 = F.avg_pool2d(z, (3, 5))
    J = ((m1 * m1).sum() + (m2 * m2 * m2).sum() + torch.sin(a2).sum() + (a1 * a1 * a1).sum() + (a3 * a3).sum()
         + (m3 * m3 * m3).sum() + (a4 * a4).sum())
    return dict(m1=m1, m2=m2, a1=a1, a2=a2, a3=a3, m3=m3, a4=a4, J=J)


@spec('indexing', values=dict(x=normal(1.0), E=uniform(-1, 1), w=uniform(-1, 1), v=uniform(-1, 1),
                               idx=labels([[0, 6, 0], [3, 3, 3], [1, 2, 6], [5, 0, 4]])),
      classes=dict(idx=7))
def _indexing(t, g):
    h = torch.tanh(t.x * t.w + t.v)
    a = h[:, 1:4, -1]
    b = h[:, -2]
    c = torch.cat([a, b * 2, h[:, 5, 1:3]], dim=1)
    s = torch.stack([b, b * t.w, h[:, 0]], dim=1)
    f = torch.flatten(s, 1)
    e = F.embedding(t.idx.long(), t.E)
    r = torch.cat([e, s], dim=2)[1:3]
    J = (c * c).sum() + (f * f * f).sum() + (e * s).sum() + torch.sin(r).sum()
    return dict(c=c, s=s, f=f, e=e, r=r, J=J)


INF, NAN = float('inf'), float('nan')
EDGE_ROWS = [[1, NAN, 3, 2], [NAN, NAN, 1, 0], [-INF, -INF, -INF, -INF], [1, INF, 2, -INF],
             [INF, INF, 1, 0], [-INF, 0, 1, 2], [0.0, -0.0, 1e-30, -1e-30], [88, 87, -100, 0],
             [1, 1, 1, 1], [3, 1, 3, NAN]]


@spec('edges', values=dict(x=fixed(EDGE_ROWS), y=labels([0, 1, 2, 3, 0, 1, 2, 3, 0, 1])),
      classes=dict(y=4), gc=dict(x=(0.5, 1.5)))
def _edges(t, g):
    u = t.x * t.w
    zero = torch.zeros_like(u)
    ew = torch.stack([torch.exp(u), torch.log(u), torch.sqrt(u), torch.tanh(u), torch.sigmoid(u), torch.relu(u),
                      F.softplus(u), torch.abs(u), torch.sin(u), torch.cos(u), torch.erf(u), torch.log1p(u),
                      torch.expm1(u), F.gelu(u), F.silu(u), F.elu(u), F.leaky_relu(u), torch.square(u),
                      torch.clamp(u, -1, 1), torch.maximum(u, zero), torch.minimum(u, zero)], dim=0)
    red = torch.stack([u.sum(1), u.mean(1), u.amax(1), u.amin(1), u.prod(1), torch.logsumexp(u, 1),
                       u.var(1), u.std(1)], dim=0)
    sm = F.softmax(u, 1)
    ls = F.log_softmax(u, 1)
    ce = F.cross_entropy(u, t.y.long(), reduction='none')
    J = ew.sum() + red.sum() + sm.sum() + ls.sum() + ce.sum()
    return dict(ew=ew, red=red, am=torch.argmax(u, 1), an=torch.argmin(u, 1), sm=sm, ls=ls, ce=ce, J=J)


@spec('broadcasting',
      values=dict(v=away(0.5, 1.5), s=fixed(0.75), k=fixed(-0.625)),
      hypers=dict(alpha=1.5), gc=dict(v=(0.5, 1.5)))
def _broadcasting(t, g):
    A, b, R, C, k, x, r, v, c, s = (t[n] for n in 'A b R C k x r v c s'.split())
    add = (A + b) * (R + A) + (A + C) * (k + A + 1)
    sub = (A - v) * (r - A) + (C - x) - (A - k - 0.5) * (1 - A * s)
    mul = A * b + R * x - x * C + t.alpha * A * k * 3
    div = A / v + b / (x * x + 1) - A / (C * C + 1) + R / (k * k + 1) \
        + (2 / (A * A + 1)) * ((A + 3) / 2)
    outer = (b + C) * (R * c) + (b - R) * (k * s - k / 4)
    neg = -add * sub + -(mul / 4) - -div + -k
    J = (neg * neg).sum() / 8 + (outer * outer).sum() / 4
    return dict(add=add, sub=sub, mul=mul, div=div, outer=outer, J=J)


@spec('activations',
      values=dict(x=uniform(-2, 2), p=uniform(0.5, 2),
                  k=fixed([0.0, 0.5, -0.75, 0.0, 1.25])),
      gc=dict(p=(0.5, 2)))
def _activations(t, g):
    u = t.a * t.x + t.b
    g.away('u', u, 1e-3)
    r = torch.relu(u)
    sg = torch.sigmoid(u)
    th = torch.tanh(u * 0.5)
    e = torch.exp(u - 1)
    l = torch.log(t.p + t.b * t.b)
    ls = torch.log(torch.sigmoid(t.a))
    rk = torch.relu(t.k)
    J = (r * t.x).sum() + (sg * t.p).sum() + (th * th).sum() + e.sum() / 4 \
        + (l * t.x).sum() + ls.sum() + (rk * t.x).sum()
    return dict(r=r, sg=sg, th=th, e=e, l=l, J=J)


@spec('reductions_all', values=dict(k=fixed(0.75)))
def _reductions_all(t, g):
    A, v, k, x = t.A, t.v, t.k, t.x
    s1 = (A * x).sum()
    m1 = (A * A).mean()
    s2 = v.sum()
    m2 = (v * v * v).mean()
    s3 = (k * k).sum()
    m3 = k.mean()
    mm = (A.sum() * A).mean()
    J = s1 * m1 + s2 * s2 / 2 + m2 + s3 + m3 * x.mean() + (v * k).sum() * (x * x).mean() + mm
    return dict(s1=s1, m1=m1, s2=s2, m2=m2, s3=s3, mm=mm, J=J)


@spec('matmul_transpose')
def _matmul_transpose(t, g):
    A, B, C, u, X = t.A, t.B, t.C, t.u, t.X
    P = A @ B.T
    Q = X.T @ C
    S = (P + Q).T @ (P - Q)
    T = A.T.T @ X
    G = u @ u.T
    H = B @ C
    J = (S * H).sum() / 10 + (T * T).sum() / 2 + G.sum() + (P * Q).sum()
    return dict(P=P, S=S, T=T, G=G, J=J)


@spec('cross_entropy', values=dict(x=normal(1.0), W=uniform(-1, 1), b=uniform(-0.5, 0.5),
                                   y=labels([0, 1, 2, 3, 3, 1])),
      classes=dict(y=4))
def _cross_entropy(t, g):
    logits = t.x @ t.W.T + t.b
    ce = cross_entropy(logits, t.y)
    return dict(logits=logits, ce=ce, J=ce.mean())


# -- the wider language --

@spec('elementwise',
      values=dict(x=uniform(0.5, 2),
                  a=patched(uniform(-1, 1), {(0, 0): 0.0, (2, 1): 0.0}),
                  b=uniform(-1, 1)),
      post=lambda v: [v['b'].__setitem__(i, v['a'][i]) for i in [(1, 1), (2, 3)]],
      gc=dict(x=(0.5, 2)))
def _elementwise(t, g):
    a, b, c, x = t.a, t.b, t.c, t.x
    e1 = torch.sqrt(x + a * a)
    e2 = torch.abs(a) * x
    e3 = softplus(b * 3)
    e4 = torch.square(a - b) * x
    e5 = torch.pow(x + c * c, 1.5)
    e6 = torch.pow(x, -0.5) * b
    e7 = a ** 3
    e8 = -b ** 2
    e9 = (x + a * a) ** 0.25
    e10 = torch.maximum(a, b) * x
    e11 = torch.minimum(a, c) * x
    e12 = torch.maximum(b, torch.tensor(0.25)) + torch.minimum(x * 0.25, a)
    J = (e1 + e2 + e3 + e4 + e5 + e6 + e7 + e8 + e9 + e10 + e11 + e12).sum()
    return dict(e1=e1, e2=e2, e3=e3, e5=e5, e8=e8, e9=e9, e10=e10, J=J)


@spec('reductions_axis',
      values=dict(A=patched(uniform(-1, 1), {(1, 2): 1.5, (3, 2): 1.5}),
                  T=patched(uniform(-1, 1), {(0, 1, 0): 1.25, (0, 1, 3): 1.25,
                                             (1, 2, 1): 1.125, (1, 2, 2): 1.125,
                                             (0, 0, 0): 1.375, (1, 0, 0): 1.375})),
      )
def _reductions_axis(t, g):
    A, T, X = t.A, t.T, t.X
    s0 = (A * X).sum(0)
    s1 = A.sum(1, keepdim=True)
    m0 = (A * A).mean(0, keepdim=True)
    m1 = (A * X).mean(1)
    x0 = first_max(A, 0)
    g.gap('A*X', A * X, 1, 1e-3)
    x1 = first_max(A * X, 1, keepdims=True)
    l0 = torch.logsumexp(A, 0)
    l1 = torch.logsumexp(A * 3, 1, keepdim=True)
    xa = first_max(A)
    la = torch.logsumexp((A * X).reshape(-1), 0)
    t0 = T.sum(1)
    t1 = first_max(T, 2)
    t2 = T.mean(0, keepdim=True)
    t3 = torch.logsumexp(T, 2, keepdim=True)
    t4 = first_max(T, 0, keepdims=True)
    J = (s0 * s0).sum() / 2 + ((A - s1) * X * (A - m0)).sum() + (m1 * m1).sum() \
        + (x0 * s0).sum() + (x1 * s1).sum() + l0.sum() + (l1 * s1).sum() + xa * la \
        + (t0 * t0).sum() + (t1 * t1).sum() + ((T - t2) * (T - t3)).sum() + (t4 * T).sum()
    return dict(s0=s0, s1=s1, m0=m0, x0=x0, x1=x1, l0=l0, l1=l1, xa=xa, la=la,
                t1=t1, t3=t3, J=J)


@spec('softmax', values=dict(Z=uniform(-2, 2), T=uniform(-2, 2)))
def _softmax(t, g):
    Z, T, W, V = t.Z, t.T, t.W, t.V
    p0 = torch.softmax(Z, 0)
    p1 = torch.softmax(Z, 1)
    q0 = torch.log_softmax(Z * 2, 0)
    q1 = torch.log_softmax(Z, 1)
    r0 = torch.softmax(T, 0)
    r1 = torch.log_softmax(T, 1)
    r2 = torch.softmax(T * 3, 2)
    r3 = torch.log_softmax(T, 2)
    J = (p0 * W).sum() + (p1 * p1).sum() + (q0 * W).sum() / 4 + (q1 * W * W).sum() \
        + (r0 * V).sum() + (r1 * V).sum() + (r2 * r2 * V).sum() + (r3 * V * V).sum()
    return dict(p0=p0, p1=p1, q0=q0, q1=q1, r1=r1, r2=r2, J=J)


@spec('reshape_transpose')
def _reshape_transpose(t, g):
    A, B, X = t.A, t.B, t.X
    a, b, c = A.shape
    r1 = A.reshape(a * b, c)
    r2 = A.reshape(a, b * c)
    r3 = B.reshape(a * b * c)
    r4 = r3.reshape(c, a, b)
    t1 = A.permute(2, 0, 1)
    t2 = B.permute(1, 0)
    t3 = A.permute(0, 2, 1)
    t4 = t3.permute(0, 1, 2)
    M = (r1 * B) @ X
    N = (t1 * r4).reshape(c, a * b) - t2 * X
    K = t4.reshape(a * c, b)
    J = (M * M).sum() / 20 + (N * N).sum() / 2 + (r2 * r2 * r2).sum() \
        + (K * B.reshape(a * c, b)).sum()
    return dict(M=M, N=N, t1=t1, K=K, J=J)


@spec('functions_loops', values=dict(y=labels([2, 0])), classes=dict(y=3))
def _functions_loops(t, g):
    xs, y, Wx, Ws, b, V = t.xs, t.y, t.Wx, t.Ws, t.b, t.V

    def sq(v):
        return v * v

    def affine(v, W, c):
        return v @ W.T + c

    def cell(x, h, W):
        z = affine(x, Wx, b) + affine(h, W, 0)
        return torch.tanh(z)

    steps = xs.shape[0]
    z = sq(b).sum()
    h = torch.tanh(affine(xs[0], Wx, b))
    acc = sq(h).mean()
    for i in range(1, steps):
        h = cell(xs[i], h, Ws[i])
        acc = acc + sq(h).mean()
    for i in range(2):
        for j in range(2):
            acc = acc + (Ws[i] * Ws[j + 1]).sum() / 10
    o = affine(h, V, 0)
    J = mean_ce(o, y) + acc / 4 + z
    return dict(o=o, h=h, acc=acc, J=J)


@spec('precision_f64',
      values=dict(x=normal(1.0), W=normal(0.5), b=uniform(-0.5, 0.5), s=fixed(1.25),
                  y=labels([0, 2, 1, 1, 2])),
      hypers=dict(lr=0.2, mu=0.75, **{'lambda': 0.01}), classes=dict(y=3))
def _precision_f64(t, g):
    o = torch.tanh(t.x @ t.W.T * t.s + t.b) * 3
    J = mean_ce(o, t.y) + t['lambda'] * (t.W * t.W).sum() + (t.s - 1) * (t.s - 1)
    return dict(o=o, J=J)


@spec('extreme_logits',
      values=dict(
          # integral logits' inputs; a and b dyadic: x * a + b is exact in float32
          x=fixed([[10000, -10000, 0, 5000],
                   [-10000, -9990, -10000, -9980],
                   [9999, 10000, 9998, -3],
                   [3, -2, 0, 1],
                   [-7000, 8000, 1, -1],
                   [0, 0, 0, 0]]),
          a=fixed([0.75, 1.25, 1.0, 0.875]),
          b=fixed([0.296875, -0.5, 0.125, -0.828125]),
          y=labels([1, 0, 2, 3, 1, 2])),
      classes=dict(y=4), gc=dict(x=(-10000, 10000)))
def _extreme_logits(t, g):
    logits = t.x * t.a + t.b
    ce = cross_entropy(logits, t.y)
    ls = torch.log_softmax(logits, 1)
    lse = torch.logsumexp(logits, 1)
    sp = softplus(logits)
    sg = torch.sigmoid(logits)
    J = ce.mean() + ls.mean() + sp.mean() / 2 + sg.sum() + lse.mean() / 4 \
        + softplus(-logits).sum() / 8
    return dict(ce=ce, ls=ls, lse=lse, sp=sp, sg=sg, J=J)


@spec('metrics',
      values=dict(x=normal(1.0),
                  W=patched(uniform(-1, 1), {(0, 1): 1.5, (2, 1): 1.5}),
                  y=labels([0, 1, 2, 0, 1, 2, 2, 0])),
      classes=dict(y=3))
def _metrics(t, g):
    o = t.x @ t.W.T
    g.gap('o', o, 1, 1e-3)
    pred = argmax(o, 1)
    eq = (pred == t.y).double()
    acc = eq.mean()
    err = (1 - eq).mean()
    col = argmax(t.W, 0)
    return dict(pred=pred, acc=acc, err=err, col=col, J=mean_ce(o, t.y))


@spec('unrolled_product', values=dict(R=normal(0.5), M=normal(1.0)), gc=dict(R=(-1, 1)))
def _unrolled_product(t, g):
    P = t.M
    for i in range(t.R.shape[0]):
        P = P @ t.R[i]
    return dict(P=P, J=(P * P).sum() / 2)


# -- breadth (contract, 5.3) --

def first_ext(x, axes, keepdims, fn):
    """torch.min or torch.max (fn) over several axes (None: all) whose
    gradient goes to the first extremum in row-major order, NaN first as
    torch.min(x, dim) and torch.max(x, dim) do: the axes moved last and
    flattened into one, then fn along it."""
    n = x.dim()
    axes = list(range(n)) if axes is None else [a % n for a in axes]
    rest = [d for d in range(n) if d not in axes]
    y = x.permute(rest + axes).reshape([x.shape[d] for d in rest] + [-1])
    v = fn(y, -1).values
    return v.reshape([1 if d in axes else x.shape[d] for d in range(n)]) if keepdims else v


def prod_axes(x, axes):
    """torch.prod over several axes (it takes one)."""
    rest = [d for d in range(x.dim()) if d not in axes]
    return torch.prod(x.permute(rest + axes).reshape([x.shape[d] for d in rest] + [-1]), -1)


@spec('breadth_unary', values=dict(k=fixed([0.0, 0.5, -0.75, 0.0, 1.25])))
def _breadth_unary(t, g):
    a, b, k, x = t.a, t.b, t.k, t.x
    u = a * x + b
    g.away('u', u, 1e-3)
    lr = F.leaky_relu(u)
    lr2 = F.leaky_relu(u, negative_slope=0.2)
    el = F.elu(u)
    el2 = F.elu(u, alpha=0.5)
    ge = F.gelu(u * 2)
    si = F.silu(u * 2)
    l1 = torch.log1p(u * u - 0.5)
    e1 = torch.expm1(u)
    sn = torch.sin(u * 3)
    cs = torch.cos(u * 3)
    ef = torch.erf(u * 1.5)
    kl = F.leaky_relu(k, 0.3)
    ke = F.elu(k, alpha=2)
    J = (lr * x).sum() + (lr2 * lr2).sum() + (el * x).sum() + el2.sum() + (ge * x).sum() \
        + (si * si).sum() + (l1 * x).sum() + e1.sum() / 4 + (sn * x).sum() + cs.sum() \
        + (ef * ef).sum() + (kl * b).sum() + (ke * b).sum()
    return dict(lr=lr, lr2=lr2, el=el, el2=el2, ge=ge, si=si, l1=l1, e1=e1, sn=sn, cs=cs,
                ef=ef, kl=kl, ke=ke, J=J)


@spec('breadth_compare', values=dict(e=fixed([-0.5, 0.5, 0.0, 0.25, -1.0]), lo=uniform(-0.4, -0.1),
                                     hi=uniform(0.1, 0.4)))
def _breadth_compare(t, g):
    a, b, e, x, lo, hi = t.a, t.b, t.e, t.x, t.lo, t.hi
    u = a * x + b
    for what, d in (('u', u), ('u - b', u - b), ('u - 0.25', u - 0.25), ('x - a', x - a),
                    ('b', b), ('|u| - 0.5', u.abs() - 0.5), ('u + 0.25', u + 0.25),
                    ('u - top', u - t.top), ('2u - lo', u * 2 - lo), ('2u - hi', u * 2 - hi)):
        g.away(what, d, 1e-3)
    lt = (u < b).double()
    le = (u <= 0.25).double()
    gt = (x > a).double()
    ge = (b >= u).double()
    g.gap('a', a, 1, 1e-3)
    ie = (torch.argmin(x, 1) <= torch.argmax(a, 1)).double()
    ti = (e < 0.5).double() + (e <= 0.5).double() * 2 + (e > -0.5).double() * 4 \
        + (e >= -0.5).double() * 8
    w1 = torch.where(u > 0, a * a, x * b)
    w2 = torch.where(b > 0, u, torch.tensor(0.5))
    w3 = torch.where(u < b, u * u, -u)
    c1 = torch.clamp(u, -0.5, 0.5)
    c2 = torch.clamp(u, min=-0.25)
    c3 = torch.clamp(u, max=t.top)
    c4 = torch.clamp(u * 2, lo, hi)
    c5 = torch.clamp(u, 0.5, -0.5)
    c6 = torch.clamp(e, -0.5, 0.5)
    J = (lt * u).sum() + (le * a).sum() + (gt * u).sum() + (ge * u).sum() + (w1 * x).sum() \
        + (w2 * w2).sum() + w3.sum() + (c1 * x).sum() + (c2 * c2).sum() + (c3 * x).sum() \
        + (c4 * c4).sum() + (c5 * u).sum() + (c6 * b).sum()
    return dict(lt=lt, le=le, gt=gt, ge=ge, ie=ie, ti=ti, w1=w1, w2=w2, w3=w3, c1=c1, c2=c2,
                c3=c3, c4=c4, c5=c5, c6=c6, J=J)


@spec('breadth_reduce',
      values=dict(A=patched(uniform(-1, 1), {(0, 2): -1.0, (3, 2): -1.0}),
                  T=patched(uniform(-1, 1), {(0, 1, 0): -1.25, (1, 1, 3): -1.25,
                                             (0, 0, 1): 1.25, (0, 2, 3): 1.25}),
                  Z=patched(uniform(0.5, 1.5), {(0, 1): 0.0, (1, 0): 0.0, (1, 3): 0.0}),
                  q=fixed([[1.0, np.nan, 0.5, np.nan], [0.25, -1.0, -1.0, 2.0], [3, 2, 1, 0]])))
def _breadth_reduce(t, g):
    A, T, Z, W, X, q = t.A, t.T, t.Z, t.W, t.X, t.q
    n0 = first_ext(A, [0], False, torch.min)
    g.gap('-A*X', -A * X, 1, 1e-3)
    n1 = first_ext(A * X, [1], True, torch.min)
    na = first_ext(A, None, False, torch.min)
    nl = first_ext(T, [0, 2], False, torch.min)
    p0 = torch.prod(Z, 1)
    p1 = torch.prod(Z, 0, keepdim=True)
    pa = torch.prod(Z + 0.25)
    pl = prod_axes(T + 1.5, [2, 0])
    v0 = torch.var(A, 0)
    v1 = torch.var(A * X, 1, keepdim=True, correction=0)
    va = torch.var(T)
    vl = torch.var(T, (0, 2), correction=2)
    s0 = torch.std(A, 1)
    sl = torch.std(T, (0, 2), keepdim=True)
    sa = torch.std(Z)
    a0 = torch.argmin(A, 0)
    a1 = torch.argmin(T, 2, keepdim=True)
    ml = T.mean((2, 1))
    xl = first_ext(T, [1, 2], False, torch.max)
    ll = torch.logsumexp(T, (0, 1), keepdim=True)
    tl = (T * T).sum((0, 1, 2))
    nq = first_ext(q + W, [1], False, torch.min)
    aq = torch.argmin(q, 1)
    J = (n0 * n0).sum() + (n1 * X).sum() + na + nl.sum() + p0.sum() + (p1 * p1).sum() + pa \
        + pl.sum() / 4 + v0.sum() + (v1 * X).sum() + va + vl.sum() + s0.sum() + (sl * sl).sum() \
        + sa + (ml * xl).sum() + ll.sum() + tl + nq.sum()
    return dict(n0=n0, n1=n1, na=na, nl=nl, p0=p0, p1=p1, pa=pa, pl=pl, v0=v0, v1=v1, va=va,
                vl=vl, s0=s0, sl=sl, sa=sa, a0=a0, a1=a1, ml=ml, xl=xl, ll=ll, tl=tl, nq=nq,
                aq=aq, J=J)


# ---- computing and writing ----

class NS(dict):
    __getattr__ = dict.__getitem__


def f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def draw(sp, decl, seed):
    """Values of every param, input and hyper, rounded to their dtype."""
    rng = np.random.RandomState(seed)
    vals = {}
    for role, name, dtype, shape in decl.tensors:
        if role == 'hyper':
            v = np.float64(sp.hypers.get(name, decl.defaults[name]))
        elif role == 'state':
            v = np.full(shape, decl.state_init[name])
        elif dtype == 'i32':
            if name in sp.values:
                v = sp.values[name](rng, shape)
            else:
                v = rng.randint(0, sp.classes[name], size=shape)
            v = np.asarray(v, dtype=np.int64).reshape(shape)
        else:
            gen = sp.values.get(name, uniform(-1, 1))
            v = np.asarray(gen(rng, shape), dtype=np.float64).reshape(shape)
        if dtype == 'f32':
            v = f32(v)
        vals[name] = v
    if sp.post:
        sp.post(vals)
    return vals


def number(decl, vals, expr):
    """An optimizer argument: a hyper's value, a number, true or false."""
    if expr in ('true', 'false'):
        return expr == 'true'
    return float(vals[expr]) if expr in vals else float(expr)


def make_optimizer(decl, vals, params):
    """torch.optim's optimizer of the .nn's `optimizer` statement: its
    arguments, with beta1 and beta2 as torch's betas."""
    name, args = decl.optimizer
    kw = {k: number(decl, vals, v) for k, v in args.items()}
    if name == 'sgd':
        return torch.optim.SGD(params, **kw)
    betas = (kw.pop('beta1', 0.9), kw.pop('beta2', 0.999))
    cls = {'adam': torch.optim.Adam, 'adamw': torch.optim.AdamW}[name]
    return cls(params, betas=betas, **kw)


def run(sp, decl, vals):
    """Forward, backward, and the train steps: {kind: [(name, value)]}, and
    the guard's complaints."""
    g = Guard()
    t = NS()
    params = []
    states = [name for role, name, _, _ in decl.tensors if role == 'state']
    for role, name, dtype, shape in decl.tensors:
        v = torch.tensor(vals[name])
        if role == 'param':
            v.requires_grad_(True)
            params.append((name, v))
        t[name] = v
    out_names = [o for o in decl.outputs if o != decl.objective] + [decl.objective]

    def fresh(training):
        """forward's mode (t.training: batch_norm and dropout's), and the
        states as init sets them: each entry point starts from them."""
        t['training'] = training
        for name in states:
            t[name] = torch.tensor(vals[name])

    def forward():
        res = sp.forward(t, g)
        missing = set(out_names) - set(res)
        if missing:
            raise SystemExit('%s: forward lacks %s' % (sp.name, sorted(missing)))
        if res[decl.objective].dim() != 0:
            raise SystemExit('%s: the objective is not a scalar' % sp.name)
        return [(n, res[n]) for n in out_names]

    def grab(pairs):
        return [(n, v.detach().numpy().copy()) for n, v in pairs]

    rec = {}
    fresh(False)
    rec['output'] = grab(forward())
    fresh(True)
    outs = forward()
    for _, p in params:
        p.grad = None
    dict(outs)[decl.objective].backward()
    rec['grad'] = [(n, p.grad.detach().numpy().copy()) for n, p in params]
    if states:
        rec['train.output'] = grab(outs)
        rec['train.state'] = [(n, t[n].numpy().copy()) for n in states]
    for n, gr in rec['grad']:
        if not np.any(gr):
            raise SystemExit('%s: dJ/d%s is zero: every param must matter' % (sp.name, n))
    if decl.optimizer:
        opt = make_optimizer(decl, vals, [p for _, p in params])
        fresh(True)
        for k in range(1, sp.steps + 1):
            opt.zero_grad()
            outs = forward()
            dict(outs)[decl.objective].backward()
            rec['step%d.output' % k] = grab(outs)
            opt.step()
            rec['step%d.param' % k] = grab(params)
            if states:
                rec['step%d.state' % k] = [(n, t[n].numpy().copy()) for n in states]
    return rec, g.failed


def fmt_values(a, dtype):
    flat = np.asarray(a).reshape(-1)
    if dtype == 'i32':
        items = ['%d' % int(v) for v in flat]
    else:
        items = ['%.17g' % float(v) for v in flat]
    return '\n'.join(' '.join(items[i:i + 6]) for i in range(0, len(items), 6)) + '\n'


def tensor_record(kind, name, dtype, value):
    shape = np.shape(value)
    head = 'tensor %s %s %s %d%s\n' % (kind, name, dtype, len(shape),
                                       ''.join(' %d' % d for d in shape))
    return head + fmt_values(value, dtype)


def write(path, text):
    with open(path + '.tmp', 'w') as f:
        f.write(text)
    os.replace(path + '.tmp', path)


def generate(sp):
    path = os.path.join(MODELS, sp.name + '.nn')
    decl = Decl(path, sp.defines)
    if decl.name != sp.name:
        raise SystemExit('%s: model is named %s' % (path, decl.name))
    for n in list(sp.values) + list(sp.hypers) + list(sp.classes) + list(sp.gc):
        if n not in [t[1] for t in decl.tensors]:
            raise SystemExit('%s: the spec names %s, which the model lacks' % (sp.name, n))
    base = zlib.crc32(sp.name.encode())
    for attempt in range(200):
        seed = (base + attempt) % 2**32
        vals = draw(sp, decl, seed)
        rec, failed = run(sp, decl, vals)
        if not failed:
            break
    else:
        raise SystemExit('%s: no draw passes the guards: %s' % (sp.name, failed))

    fdt = decl.float_dtype
    dtypes = {t[1]: t[2] for t in decl.tensors}
    out = ['# nnc e2e fixture for tests/e2e/models/%s.nn: written by tests/e2e/gen_fixtures.py'
           ' (PyTorch %s); do not edit.\n' % (sp.name, torch.__version__.split('+')[0]),
           '# values drawn with numpy RandomState(%d)\n' % seed,
           'nnc-fixture 1\n', 'model %s\n' % sp.name]
    out += ['define %s %d\n' % (k, v) for k, v in sp.defines.items()]
    out.append('objective %s\n' % decl.objective)
    if decl.optimizer:
        name, args = decl.optimizer
        if name == 'sgd':
            out.append('optimizer sgd %.17g %.17g\n' % (number(decl, vals, args['lr']),
                                                        number(decl, vals, args.get('momentum', '0'))))
        else:
            out.append('optimizer %s\n' % name)
        out.append('steps %d\n' % sp.steps)
    else:
        out += ['optimizer none\n', 'steps 0\n']
    order = [t[1] for t in decl.tensors] + [o for o in decl.outputs if o != decl.objective]
    out.append('order %s\n' % ' '.join(order))
    for name, v in decl.defaults.items():
        out.append('hyperdefault %s %.17g\n' % (name, v))
    for name, c in sp.classes.items():
        out.append('range %s 0 %d\n' % (name, c))
    for role, name, dtype, shape in decl.tensors:
        out.append(tensor_record(role, name, dtype, vals[name]))
    for kind, pairs in rec.items():
        for name, v in pairs:
            is_int = np.issubdtype(np.asarray(v).dtype, np.integer)
            dtype = 'i32' if is_int else dtypes.get(name, fdt)
            out.append(tensor_record(kind, name, dtype, v))
    out.append('end\n')
    os.makedirs(FIXTURES, exist_ok=True)
    write(os.path.join(FIXTURES, sp.name + '.fix'), ''.join(out))

    defs = ['# nnc options for %s.nn: written by tests/e2e/gen_fixtures.py\n' % sp.name]
    defs += ['-D %s=%d\n' % (k, v) for k, v in sp.defines.items()]
    write(os.path.join(MODELS, sp.name + '.defs'), ''.join(defs))

    gc = ['# gradient check of %s.nn (gradcheck_main.c): written by '
          'tests/e2e/gen_fixtures.py\n' % sp.name,
          'seeds 3\n', 'eps 1e-6\n', 'atol 1e-5\n', 'rtol 1e-3\n']
    if sp.gc_coords:
        gc.append('coords %d\n' % sp.gc_coords)
    for role, name, dtype, shape in decl.role('input'):
        if dtype == 'i32':
            gc.append('input %s int 0 %d\n' % (name, sp.classes[name]))
        else:
            lo, hi = sp.gc.get(name, (-1, 1))
            gc.append('input %s uniform %g %g\n' % (name, lo, hi))
    write(os.path.join(MODELS, sp.name + '.gc'), ''.join(gc))
    return seed


def main(argv):
    names = argv[1:] or sorted(SPECS)
    nn = sorted(f[:-3] for f in os.listdir(MODELS) if f.endswith('.nn'))
    lacking = [n for n in nn if n not in SPECS]
    if lacking:
        raise SystemExit('models without a reference: %s' % ' '.join(lacking))
    for n in names:
        if n not in SPECS:
            raise SystemExit('unknown model %s' % n)
        seed = generate(SPECS[n])
        print('%-20s seed %d' % (n, seed))


if __name__ == '__main__':
    main(sys.argv)
