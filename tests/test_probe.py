"""The incremental masked forward: equal to a full forward after any edit, bit-identical with all-ones
masks, no cache aliasing; what bottleneck nullification and skip isolation do; the cycle-aware view."""
from __future__ import annotations

import pytest
import torch

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.models.networks import UnetGenerator
from cyclegan_workbench.visualization.masks import MaskSet
from cyclegan_workbench.visualization.parser import parse_generator
from cyclegan_workbench.visualization.probe import Probe, masked_generator


def make_net(depth=4, ngf=4, in_nc=1, out_nc=3, seed=0, norm="instance"):
    torch.manual_seed(seed)
    net = UnetGenerator(in_nc, out_nc, depth, ngf, norm).eval()
    for p in net.parameters():  # livelier than the default init, so edits change outputs visibly
        p.data.normal_(0, 0.3)
    return net


@pytest.fixture(scope="module")
def net():
    return make_net()


@pytest.fixture
def x():
    return torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1


@pytest.mark.parametrize("fast", [False, True])
def test_all_ones_masks_leave_the_output_bit_identical(net, x, fast):
    graph = parse_generator(net, 32, fast=fast)
    probe = Probe(graph)
    probe.set_input(x)
    plain = probe.output()
    with torch.no_grad():
        reference = net(x)
    if fast:  # prepacked kernels: the same mathematics, another summation order
        assert (plain - reference).abs().max() <= 1e-5
    else:
        assert torch.equal(plain, reference)
    for layer in (0, graph.bottleneck, len(graph.layers) - 1):
        probe.masks.set_filter(layer, 0, 1.0)
        probe.masks.scale_layer(layer, 1.0)
        probe.masks.set_region(layer, (0, 0, 1, 1), 1.0)
    assert probe.masks.is_identity()
    assert torch.equal(probe.output(), plain)
    assert torch.equal(Probe(graph, probe.masks).forward(x), plain)


def test_nullifying_a_filter_zeroes_that_channel_where_the_next_layers_read_it(net, x):
    graph = parse_generator(net, 32, fast=False)
    probe = Probe(graph)
    probe.set_input(x)
    s = graph.skip(2)
    encoder = graph.layers[s.encoder]  # down 2's LeakyReLU, copied across skip 2 and read by down 3
    before = probe.response(encoder)
    probe.masks.set_filter(encoder, 3, 0.0)
    after = probe.response(encoder)
    assert (after[:, 3] == 0).all() and torch.equal(after[:, :3], before[:, :3])
    assert torch.equal(probe.response(encoder, masked=False), before)  # the raw response is kept
    assert (probe.response(s.concat)[:, 3] == 0).all()
    # Down 3 reads the masked tensor: its output is the convolution of the input with channel 3 zeroed.
    down3 = graph.layers[s.encoder + 1]
    conv = graph.net.get_submodule(down3.name)
    with torch.no_grad():
        assert torch.allclose(probe.response(down3), conv(after), atol=1e-6)


def test_incremental_equals_full_forward_after_edits_at_first_middle_bottleneck_and_last_layers(net, x):
    graph = parse_generator(net, 32)
    probe = Probe(graph)
    probe.set_input(x)
    assert probe.update() == len(graph.nodes)
    last = len(graph.layers) - 1
    middle = graph.skip(2).concat
    edits = [
        (0, lambda m: m.set_filter(0, 1, 0.0)),
        (middle, lambda m: m.set_region(middle, (0, 0, 4, 2), 2.0)),
        (graph.bottleneck, lambda m: m.set_filter(graph.bottleneck, 5, 3.0)),
        (last, lambda m: m.scale_layer(last, 0.5)),
        (graph.bottleneck, lambda m: m.reset_layer(graph.bottleneck)),
    ]
    for layer, edit in edits:
        edit(probe.masks)
        incremental = probe.output()
        assert probe.last_recomputed == len(graph.downstream(layer)) + _hidden_downstream(graph, layer)
        full = graph.run(x, probe.masks)
        assert (incremental - full).abs().max() <= 1e-6
        full_values = graph.run(x, probe.masks, keep=True)[2]
        for l in (0, middle, graph.bottleneck, last):
            assert (probe.response(l) - full_values[graph.layers[l].node]).abs().max() <= 1e-6
    assert probe.update() == 0  # nothing changed since


def _hidden_downstream(graph, layer):
    """Steps after `layer` that are not listed layers (pads, getattr...): none in our U-Net."""
    node = graph.layers[layer].node
    return sum(1 for i in graph.downstream_nodes(node) if graph.nodes[i].layer is None)


def test_cached_tensors_are_never_aliased_by_what_the_probe_hands_out(net, x):
    graph = parse_generator(net, 32)
    probe = Probe(graph)
    probe.set_input(x)
    expected = probe.output()
    probe.response(graph.bottleneck).fill_(7.0)
    probe.output().zero_()
    for r in probe.responses().values():
        r.mul_(0)
    probe.masks.set_filter(len(graph.layers) - 2, 0, 0.5)
    probe.masks.reset()
    assert torch.equal(probe.output(), expected)


def test_weights_changed_under_the_probe_are_noticed(x):
    net = make_net(seed=3)
    graph = parse_generator(net, 32)
    probe = Probe(graph)
    probe.set_input(x)
    before = probe.output()
    with torch.no_grad():
        net.get_submodule(graph.layers[0].name).weight.mul_(-1)  # an optimizer step, in place
    after = probe.output()
    assert not torch.allclose(after, before)
    assert (after - graph.run(x)).abs().max() <= 1e-6


def test_responses_of_every_layer_match_the_modules_outputs(net, x):
    graph = parse_generator(net, 32, fast=False)
    captured = {}
    hooks = [net.get_submodule(l.name).register_forward_hook(
        lambda m, i, o, name=l.name: captured.setdefault(name, o.clone())) for l in graph.layers if l.kind != "concat"]
    try:
        with torch.no_grad():
            net(x)
    finally:
        for h in hooks:
            h.remove()
    probe = Probe(graph)
    probe.set_input(x)
    responses = probe.responses()
    assert sorted(responses) == list(range(len(graph.layers)))
    for l in graph.layers:
        assert responses[l.index].shape == (2, *l.shape)
        if l.kind != "concat":
            assert torch.equal(responses[l.index], captured[l.name])


def test_nullifying_the_bottleneck_leaves_only_the_skips(net, x):
    graph = parse_generator(net, 32)
    probe = Probe(graph)
    probe.set_input(x)
    probe.masks.nullify_bottleneck()
    assert (probe.response(graph.bottleneck) == 0).all()
    innermost = graph.skip(max(graph.skip_levels))
    decoder = probe.response(innermost.decoder)
    assert torch.equal(decoder[0], decoder[1])  # both inputs: the code below the deepest skip is gone
    assert not torch.equal(probe.output()[0], probe.output()[1])  # the skips still carry each input


@pytest.mark.parametrize("level", [1, 2, 3])
def test_isolating_skip_level_k_leaves_information_only_in_the_top_k_levels(net, x, level):
    graph = parse_generator(net, 32)
    probe = Probe(graph)
    probe.set_input(x)
    probe.masks.isolate_skip(level)
    for l in graph.layers:
        if l.side == "down" and l.level > level:
            assert (probe.response(l) == 0).all()
    s = graph.skip(level)
    concat = probe.response(s.concat)
    dec = slice(*s.decoder_channels)
    # Whatever reaches level k from below is the same for every input: it carries no information.
    assert torch.equal(concat[0, dec], concat[1, dec])
    enc = slice(*s.encoder_channels)
    assert not torch.equal(concat[0, enc], concat[1, enc])
    # Another input gives the same decoder branch: only encoder levels 1..k reach the output.
    other = x.clone()
    other[:, :, 8:24, 8:24] = 0.3
    probe_b = Probe(graph, probe.masks)
    probe_b.set_input(other)
    assert torch.equal(probe_b.response(s.concat)[0, dec], concat[0, dec])


def test_gating_a_skip_branch(net, x):
    graph = parse_generator(net, 32)
    probe = Probe(graph)
    probe.set_input(x)
    s = graph.skip(1)
    before = probe.response(s.concat)
    probe.masks.gate_skip(1, encoder=0.0)
    after = probe.response(s.concat)
    assert (after[:, slice(*s.encoder_channels)] == 0).all()
    assert torch.equal(after[:, slice(*s.decoder_channels)], before[:, slice(*s.decoder_channels)])
    probe.masks.gate_skip(1, encoder=1.0, decoder=0.0)
    after = probe.response(s.concat)
    assert torch.equal(after[:, slice(*s.encoder_channels)], before[:, slice(*s.encoder_channels)])
    assert (after[:, slice(*s.decoder_channels)] == 0).all()


def test_cycle_view_reports_reconstruction_and_loss_changes(net, x):
    G = parse_generator(net, 32)
    F = make_net(in_nc=3, out_nc=1, seed=5)
    probe = Probe(G)
    probe.set_input(x)
    view = probe.cycle(F)
    assert view.output_change == 0 and view.cycle_loss_change == 0
    assert torch.equal(view.reconstruction, view.unedited_reconstruction)
    probe.masks.set_filter(G.bottleneck, 0, 0.0)
    probe.masks.scale_layer(0, 0.5)
    view = probe.cycle(F)
    with torch.no_grad():
        edited = G.run(x, probe.masks)
        unedited = G.run(x)
        rec, rec0 = F(edited), F(unedited)
    assert torch.allclose(view.output, edited, atol=1e-6) and torch.allclose(view.reconstruction, rec, atol=1e-6)
    assert view.output_change == pytest.approx(float((edited - unedited).abs().mean()), abs=1e-6)
    assert view.output_change > 0
    assert view.cycle_loss == pytest.approx(float((rec - x).abs().mean()), abs=1e-6)
    assert view.cycle_loss_change == pytest.approx(float((rec - x).abs().mean() - (rec0 - x).abs().mean()), abs=1e-6)
    # The other generator as a probe with its own gains: they apply to both reconstructions.
    other = Probe(parse_generator(F, 32))
    other.masks.scale_layer(0, 0.0)
    gated = probe.cycle(other)
    assert torch.allclose(gated.reconstruction, other.forward(edited), atol=1e-6)
    with pytest.raises(UserError, match="opposite generator|cannot take"):
        probe.cycle(make_net(in_nc=3, out_nc=3, seed=6))


def test_bad_inputs_and_other_generators_are_refused(net):
    probe = Probe(parse_generator(net, 32))
    with pytest.raises(UserError, match="no input yet"):
        probe.output()
    with pytest.raises(UserError, match="parsed for 1-channel 32x32 inputs"):
        probe.set_input(torch.zeros(1, 1, 64, 64))
    other = parse_generator(make_net(depth=3), 32)
    with pytest.raises(UserError, match="different generator"):
        Probe(other, MaskSet(probe.graph))


def test_a_training_network_stays_in_training_mode(x):
    net = make_net(norm="batch").train()
    probe = Probe(parse_generator(net, 32))
    probe.set_input(x)
    probe.masks.set_filter(3, 0, 0.0)
    probe.output()
    assert all(m.training for m in net.modules())


def test_masked_generator_applies_a_saved_set(net, x, tmp_path):
    graph = parse_generator(net, 32)
    masks = MaskSet(graph)
    masks.nullify_bottleneck()
    masks.save(tmp_path / "m.json")
    forward = masked_generator(net, tmp_path / "m.json", 32)
    assert (forward(x) - graph.run(x, masks)).abs().max() <= 1e-6
    MaskSet(graph).save(tmp_path / "empty.json")
    with torch.no_grad():
        assert torch.equal(masked_generator(net, tmp_path / "empty.json", 32)(x), net(x))


class WideBottleneck(torch.nn.Module):
    """Wide layers at a tiny resolution: where the prepacked kernels take over from the modules."""

    def __init__(self):
        super().__init__()
        self.down = torch.nn.Conv2d(3, 256, 4, stride=4)
        self.up = torch.nn.ConvTranspose2d(256, 512, 4, stride=2, padding=1)
        self.out = torch.nn.ConvTranspose2d(512, 3, 4, stride=2, padding=1)

    def forward(self, x):
        return torch.tanh(self.out(torch.relu(self.up(self.down(x)))))


def test_prepacked_kernels_agree_with_the_modules_follow_weight_updates_and_fall_back(monkeypatch, caplog):
    from cyclegan_workbench.visualization import kernels

    if not kernels.available():
        pytest.skip("this PyTorch build has no oneDNN")
    torch.manual_seed(0)
    net = WideBottleneck().eval()
    x = torch.randn(1, 3, 16, 16)
    graph = parse_generator(net, 16)
    runner = kernels.conv_runner(net.up)
    with torch.no_grad():
        assert (runner(torch.ones(1, 256, 4, 4)) - net.up(torch.ones(1, 256, 4, 4))).abs().max() <= 1e-5
        assert runner._packed and not runner.failed  # it did take the prepacked path
        assert (graph.run(x) - net(x)).abs().max() <= 1e-5
        net.up.weight.mul_(2)  # in place, like an optimizer step
        assert (graph.run(x) - net(x)).abs().max() <= 1e-5
    # A kernel that disagrees with its module is dropped for good, with a warning.
    monkeypatch.setattr(kernels._PrepackedConv, "_run", lambda self, inp, shape: torch.zeros(1))
    fresh = parse_generator(net, 16)
    with torch.no_grad():
        assert torch.equal(fresh.run(x), net(x))
    assert "prepacked oneDNN kernel disabled" in caplog.text


def test_swapping_in_another_mask_set_recomputes_everything(net, x, tmp_path):
    graph = parse_generator(net, 32)
    probe = Probe(graph)
    probe.set_input(x)
    probe.masks.set_filter(0, 0, 0.0)
    probe.output()
    preset = MaskSet(graph)
    preset.isolate_skip(2)
    preset.save(tmp_path / "preset.json")
    probe.masks = MaskSet.load(tmp_path / "preset.json", graph)  # a fresh set: its versions say nothing
    assert torch.equal(probe.output(), graph.run(x, preset))
    assert probe.last_recomputed == len(graph.nodes)


def test_the_reference_layout_with_in_place_activations_keeps_its_cache_intact(x):
    from tests.test_parser import in_place_unet

    torch.manual_seed(4)
    ref = in_place_unet(1, 3, 5, 2).eval()
    graph = parse_generator(ref, 32)
    probe = Probe(graph)
    probe.set_input(x)
    with torch.no_grad():
        assert (probe.output() - ref(x.clone())).abs().max() <= 1e-5
    # The reference's in-place ReLU right after the bottleneck would have clipped this cached tensor.
    assert (probe.response(graph.bottleneck) < 0).any()
    for layer in (graph.bottleneck, graph.skip(2).encoder, graph.skip(1).concat):
        probe.masks.set_filter(layer, 0, 0.5)
        assert (probe.output() - graph.run(x, probe.masks)).abs().max() <= 1e-6
