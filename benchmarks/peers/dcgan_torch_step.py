"""PyTorch peer of dcgan_keras_step.py: same DCGAN (the tutorial recipe's shapes), Adam 1e-4, BCE.
usage: python dcgan_torch_step.py [steps] [batch] [--compile] [--amp] [--channels-last]"""
import sys, time
try:
    import torch
except ImportError:  # one short line for bench's table, not a traceback
    sys.exit("skipped: torch is not installed")
from torch import nn
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 50
batch = int(sys.argv[2]) if len(sys.argv) > 2 else 256
dev = "cuda" if torch.cuda.is_available() else "cpu"
torch.backends.cudnn.benchmark = True
torch.backends.cuda.matmul.allow_tf32 = True; torch.backends.cudnn.allow_tf32 = True
Z = 100
class G(nn.Module):
    def __init__(s):
        super().__init__()
        s.fc = nn.Sequential(nn.Linear(Z, 7*7*256, bias=False), nn.BatchNorm1d(7*7*256), nn.LeakyReLU(0.3))
        s.net = nn.Sequential(
            nn.ConvTranspose2d(256, 128, 5, 1, 2, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.3),
            nn.ConvTranspose2d(128, 64, 5, 2, 2, output_padding=1, bias=False), nn.BatchNorm2d(64), nn.LeakyReLU(0.3),
            nn.ConvTranspose2d(64, 1, 5, 2, 2, output_padding=1, bias=False), nn.Tanh())
    def forward(s, z): return s.net(s.fc(z).view(-1, 256, 7, 7))
D = nn.Sequential(nn.Conv2d(1, 64, 5, 2, 2), nn.LeakyReLU(0.3), nn.Dropout(0.3),
                  nn.Conv2d(64, 128, 5, 2, 2), nn.LeakyReLU(0.3), nn.Dropout(0.3),
                  nn.Flatten(), nn.Linear(7*7*128, 1)).to(dev)
g = G().to(dev)
go = torch.optim.Adam(g.parameters(), 1e-4); do = torch.optim.Adam(D.parameters(), 1e-4)
bce = nn.BCEWithLogitsLoss()
amp = "--amp" in sys.argv
cl = "--channels-last" in sys.argv
if cl:
    g = g.to(memory_format=torch.channels_last); D.to(memory_format=torch.channels_last)
real = torch.rand(batch, 1, 28, 28, device=dev) * 2 - 1
if cl:
    real = real.contiguous(memory_format=torch.channels_last)
ones = torch.ones(batch, 1, device=dev); zeros = torch.zeros(batch, 1, device=dev)
def step():
    with torch.autocast(dev, dtype=torch.bfloat16, enabled=amp):
        fake = g(torch.randn(batch, Z, device=dev))
        dl = bce(D(real).float(), ones) + bce(D(fake.detach()).float(), zeros)
    do.zero_grad(set_to_none=True); dl.backward(); do.step()
    with torch.autocast(dev, dtype=torch.bfloat16, enabled=amp):
        gl = bce(D(fake).float(), ones)
    go.zero_grad(set_to_none=True); gl.backward(); go.step()
    return gl, dl
if "--compile" in sys.argv:
    step = torch.compile(step)
def sync():
    if dev == "cuda": torch.cuda.synchronize()
t0 = time.perf_counter(); step(); sync(); first = time.perf_counter() - t0
for _ in range(3): step()
sync(); t0 = time.perf_counter()
for _ in range(steps): out = step()
sync(); dt = time.perf_counter() - t0
print(f"torch {torch.__version__} dev={dev} compile={'--compile' in sys.argv} amp={amp} channels_last={cl} batch={batch} first_step_s={first:.2f} "
      f"step_ms={1000*dt/steps:.2f} images_per_s={batch*steps/dt:.0f} losses={[round(float(x),3) for x in out]}")
