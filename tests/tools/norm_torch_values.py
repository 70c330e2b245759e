#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Prints the PyTorch tables of tests/unit/test_norm_torch.c (torch 1.13, float64):

    /usr/bin/python3 tests/tools/norm_torch_values.py
"""
import torch, math
torch.set_default_dtype(torch.float64)
import numpy as np
EPS=float(np.float32(0.01))
F=torch.nn.functional
def arr(shape, f):
    n=1
    for d in shape: n*=d
    return torch.tensor([f(i) for i in range(n)]).reshape(shape)
def emit(name, ts):
    for k,t in ts.items():
        v=t.detach().reshape(-1).tolist()
        print(f"static const double {name}_{k}[{len(v)}] = {{ " + ", ".join("%.17g"%x for x in v) + " };")
cases={}
# BN training
x=arr((2,3,2),lambda i: math.sin(1.3*i)*2); s=arr((3,),lambda i:0.5+0.3*i); b=arr((3,),lambda i:0.1*i-0.1)
for t in (x,s,b): t.requires_grad_(True)
y=F.batch_norm(x,None,None,s,b,training=True,eps=EPS); dy=arr(y.shape,lambda i: math.cos(0.7*i))
g=torch.autograd.grad((y*dy).sum(),[x,s,b]); emit("bnt",dict(x=x,s=s,b=b,dy=dy,dx=g[0],ds=g[1],db=g[2]))
# BN inference (x, scale, B)
m=arr((3,),lambda i:0.2*i-0.3); v=arr((3,),lambda i:0.5+0.4*i)
y=F.batch_norm(x,m,v,s,b,training=False,eps=EPS)
g=torch.autograd.grad((y*dy).sum(),[x,s,b]); emit("bni",dict(m=m,v=v,dx=g[0],ds=g[1],db=g[2]))
# LN axis -1 over [2,3]
xl=arr((2,3),lambda i: math.sin(0.9*i+0.2)*3).requires_grad_(True); w=arr((3,),lambda i:1-0.4*i).requires_grad_(True); bl=arr((3,),lambda i:0.3*i).requires_grad_(True)
y=F.layer_norm(xl,(3,),w,bl,eps=EPS); dyl=arr(y.shape,lambda i: math.cos(1.1*i))
g=torch.autograd.grad((y*dyl).sum(),[xl,w,bl]); emit("ln",dict(x=xl,w=w,b=bl,dy=dyl,dx=g[0],dw=g[1],db=g[2]))
# IN [2,2,3]
xi=arr((2,2,3),lambda i: math.sin(0.5*i+1)*2).requires_grad_(True); si=arr((2,),lambda i:0.7+0.5*i).requires_grad_(True); bi=arr((2,),lambda i:-0.2+0.4*i).requires_grad_(True)
y=F.instance_norm(xi,weight=si,bias=bi,eps=EPS); dyi=arr(y.shape,lambda i: math.cos(0.3*i+0.5))
g=torch.autograd.grad((y*dyi).sum(),[xi,si,bi]); emit("in",dict(x=xi,s=si,b=bi,dy=dyi,dx=g[0],ds=g[1],db=g[2]))
# MatMul [3] x [2,3,2]
a=arr((3,),lambda i: math.sin(i+0.3)).requires_grad_(True); bm=arr((2,3,2),lambda i: math.cos(0.8*i)).requires_grad_(True)
y=torch.matmul(a,bm); dym=arr(y.shape,lambda i: math.sin(0.6*i+2))
g=torch.autograd.grad((y*dym).sum(),[a,bm]); emit("mm",dict(a=a,b=bm,dy=dym,da=g[0],db=g[1]))
