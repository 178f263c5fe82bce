"""Every chapter's ``smoke`` / ``small`` / ``paper`` settings, in one place.

- ``smoke``: seconds per chapter on a CPU; what CI executes through nbval.
- ``small``: the default; minutes per chapter on a 2-core CPU, synthetic data, results that
  already show the paper's effects (or honestly show that they do not).
- ``paper``: paper-faithful sizes and schedules for a GPU, on real or synthetic data.

A notebook reads its settings with ``get_profile("<chapter>", profile)`` right after its
papermill ``parameters`` cell; nothing else in a notebook hard-codes a size or a step count.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Iterator, Mapping

__all__ = ["PROFILE_NAMES", "PROFILES", "Profile", "get_profile"]

PROFILE_NAMES = ("smoke", "small", "paper")

PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    # The synthetic-world chapter: figures plus the sanity experiment (a small CNN).
    "data": {
        "smoke": dict(size=32, n_identities=8, fine_identities=4, n_unseen=4, steps=20, batch_size=16, width=4,
                      seeds=(0,), bench_sizes=(32,), bench_images=32, protocol_identities=10,
                      protocol_folds=5),
        "small": dict(size=48, n_identities=40, fine_identities=12, n_unseen=12, steps=400, batch_size=32, width=16,
                      seeds=(0, 1, 2), bench_sizes=(64, 128), bench_images=1024, protocol_identities=20,
                      protocol_folds=10),
        "paper": dict(size=128, n_identities=120, fine_identities=60, n_unseen=40, steps=3000, batch_size=64,
                      width=32, seeds=(0, 1, 2), bench_sizes=(64, 128), bench_images=1024, protocol_identities=20,
                      protocol_folds=10),
    },
    # FESR (notebooks/fesr.py): FESGAN + R, seven ablation variants per fold, FESGAN variants of Fig. 4, a plain
    # CNN and a generator judge per fold. P_pre / P_max are Algorithm 1's iterations (the paper does not state them);
    # fesgan_steps is the budget of the Fig. 4 ablations (FG is compared with them at the same step count);
    # lambda_rec / lambda_cls are lambda_2 / lambda_4 (the paper's 10 / 1); r_body "plain" is the deviation for R
    # that reaches the plain CNN at CPU budgets ("table2" is Table II); r_schedule "cosine" decays R's rate.
    "fesr": {
        "smoke": dict(size=32, channels=3, n_identities=8, n_frames=4, folds=2, seeds=(0,), gan_width=8, latent_dim=16,
                      d_z=(16, 8, 4), r_body="plain", r_width=4, r_convs=(16, 32), r_fcs=(64, 32), r_dropout=0.2,
                      r_batch_norm=True, r_schedule="cosine", id_widths=(4, 8, 8, 8), id_feature_dim=16, id_steps=4,
                      id_batch_size=16, judge_steps=4, P_pre=4, P_max=6, fesgan_steps=2, batch_size=8, lr=5e-4,
                      lr_R=1e-3, lambda_rec=100.0, lambda_cls=3.0, fesgan_folds=1, n_show=2, n_new=2, n_prior=8,
                      intensity_levels=3, verify_images=16, umap=False),
        "small": dict(size=32, channels=3, n_identities=90, n_frames=8, folds=10, seeds=(0,), gan_width=16,
                      latent_dim=64, d_z=(64, 32, 16), r_body="plain", r_width=16, r_convs=(256, 512),
                      r_fcs=(2048, 512), r_dropout=0.2, r_batch_norm=True, r_schedule="cosine",
                      id_widths=(8, 16, 32, 32), id_feature_dim=64, id_steps=300, id_batch_size=32, judge_steps=250,
                      P_pre=800, P_max=1000, fesgan_steps=200, batch_size=16, lr=5e-4, lr_R=1e-3, lambda_rec=100.0,
                      lambda_cls=3.0, fesgan_folds=0, n_show=4, n_new=5, n_prior=30, intensity_levels=5,
                      verify_images=60, umap=True),
        "paper": dict(size=128, channels=3, n_identities=118, n_frames=16, folds=10, seeds=(0,), gan_width=64,
                      latent_dim=64, d_z=(64, 32, 16), r_body="table2", r_width=32, r_convs=(256, 512),
                      r_fcs=(2048, 512), r_dropout=0.5, r_batch_norm=False, r_schedule="constant",
                      id_widths=(32, 64, 128, 128), id_feature_dim=256, id_steps=4000, id_batch_size=64,
                      judge_steps=3000, P_pre=5000, P_max=15000, fesgan_steps=5000, batch_size=16, lr=1e-4, lr_R=None,
                      lambda_rec=10.0, lambda_cls=1.0, fesgan_folds=1, n_show=4, n_new=6, n_prior=200,
                      intensity_levels=5, verify_images=300, umap=True),
    },
    # JESRL (notebooks/jesrl.py): the switch GAN (G_enc, switch unit, G_dec, D1/D2) with the classifier C
    # (VGG-19 + G_enc), Table VII's ablations and the authors' code, per fold and seed; a judge per fold.
    # steps: C's updates (and the GAN's) in every variant; pairs: unpaired (I_a, I_b) per iteration; batch_size:
    # C's real faces per iteration; gan_width / vgg_width play Table I's 64 / VGG-19's 64; alternate: the block
    # length of the authors' code's turns; light_seeds: seeds that run Fig. 12's curve (and No_InterL_ExpR, where
    # no_interl_expr is set: the small profile leaves that Table VII row out to stay within its budget).
    "jesrl": {
        "smoke": dict(size=32, channels=3, n_identities=6, folds=2, seeds=(0,), light_seeds=1, gan_width=2,
                      vgg_width=2, vgg_bn=True, c_fuse=8, c_fc=(8, 8), c_dropout=0.2, cnn_width=4, steps=3,
                      batch_size=4, pairs=4, lr=2e-4, weight_decay=0.0, lr_C=1e-3, optimizer_C="adam",
                      lambdas=(10.0, 15.0, 5.0, 5.0), p=0.5, alternate=1, judge_steps=3, judge_batch_size=16,
                      judge_width=4, judge_id_widths=(4, 4, 8, 8), curve=(0, 1), no_interl_expr=True, n_show=2,
                      interp_steps=3, umap=False),
        "small": dict(size=32, channels=3, n_identities=30, folds=5, seeds=(0, 1), light_seeds=1, gan_width=8,
                      vgg_width=4, vgg_bn=True, c_fuse=32, c_fc=(64, 64), c_dropout=0.2, cnn_width=8, steps=165,
                      batch_size=32, pairs=8, lr=2e-4, weight_decay=0.0, lr_C=3e-3, optimizer_C="adam",
                      lambdas=(10.0, 15.0, 5.0, 5.0), p=0.5, alternate=15, judge_steps=250, judge_batch_size=64,
                      judge_width=8, judge_id_widths=(8, 16, 32, 32), curve=(0, 2, 6), no_interl_expr=False,
                      n_show=5, interp_steps=9, umap=False),
        "paper": dict(size=256, channels=3, n_identities=120, folds=5, seeds=(0, 1), light_seeds=2, gan_width=64,
                      vgg_width=64, vgg_bn=False, c_fuse=512, c_fc=(4096, 4096), c_dropout=0.5, cnn_width=32,
                      steps=30000, batch_size=10, pairs=10, lr=2e-4, weight_decay=0.0, lr_C=1e-3, optimizer_C="sgd",
                      lambdas=(10.0, 15.0, 5.0, 5.0), p=0.5, alternate=300, judge_steps=3000, judge_batch_size=64,
                      judge_width=32, judge_id_widths=(32, 64, 128, 128), curve=(0, 1, 2, 3, 4, 5, 6),
                      no_interl_expr=True, n_show=6, interp_steps=11, umap=True),
    },
    # GroupGAN (notebooks/groupgan.py): Table 1's four frameworks (CNN, DCGAN, 1V2, 2V2) on several BaseNets,
    # each continuing from Algorithm 1's pre-trainings (E on peak faces: pre_steps; G's encoder-decoder on faces:
    # g_pre_steps) for `steps` iterations; the main BaseNet runs every seed (the claims' replicates), the others
    # table_seeds on the first table_folds folds. adv: the four adversarial weights (the paper's 2e-3); gamma_G:
    # C's weight in Eq. 6 (ours); residual_G: G adds its output to the input (the small-budget deviation);
    # nuisance / idiosyncrasy: a lab-like synthetic world (CK+ and Oulu-CASIA are recorded in a lab).
    "groupgan": {
        "smoke": dict(size=32, channels=3, n_identities=6, n_frames=10, nuisance=0.3, idiosyncrasy=0.5,
                      weak_frames=(6, 8), folds=2, seeds=(0,), table_seeds=(0,), table_folds=2,
                      basenets=("resnet18",), main_basenet="resnet18", fc=(512, 256), dropout=0.2, gan_width=4,
                      steps=2, pre_steps=2, g_pre_steps=2, batch_size=4, pre_batch_size=8, lr=2e-4, lr_C=5e-4,
                      lr_pre=1e-3, optimizer="adam", adv=2e-3, gamma_G=1e-2, crop_pad=0, flip=True,
                      residual_G=True, cnn_width=4, judge_steps=2, judge_batch_size=16, judge_width=4,
                      judge_id_widths=(4, 4, 8, 8), n_show=3, n_pairs=3, sketch_steps=2, sketch_images=16),
        "small": dict(size=32, channels=3, n_identities=40, n_frames=16, nuisance=0.3, idiosyncrasy=0.5,
                      weak_frames=(6, 8), folds=5, seeds=(0, 1), table_seeds=(0,), table_folds=2,
                      basenets=("resnet18", "resnet34"), main_basenet="resnet18", fc=(512, 256),
                      dropout=0.2,
                      gan_width=16, steps=40, pre_steps=100, g_pre_steps=20, batch_size=8, pre_batch_size=16,
                      lr=2e-4, lr_C=5e-4, lr_pre=1e-3, optimizer="adam", adv=2e-3, gamma_G=1e-2, crop_pad=0,
                      flip=True, residual_G=True, cnn_width=16, judge_steps=300, judge_batch_size=32,
                      judge_width=8, judge_id_widths=(8, 16, 32, 32), n_show=6, n_pairs=6, sketch_steps=150,
                      sketch_images=256),
        "paper": dict(size=128, channels=3, n_identities=118, n_frames=16, nuisance=0.3, idiosyncrasy=0.5,
                      weak_frames=(6, 8), folds=5, seeds=(0, 1), table_seeds=(0, 1), table_folds=5,
                      basenets=("alexnet", "vgg11", "vgg13", "vgg16", "vgg19", "resnet18", "resnet34", "resnet50"),
                      main_basenet="vgg13", fc=(512, 256), dropout=0.5, gan_width=32, steps=20000, pre_steps=5000,
                      g_pre_steps=5000, batch_size=4, pre_batch_size=32, lr=1e-4, lr_C=1e-4, lr_pre=1e-3,
                      optimizer="sgd", adv=2e-3, gamma_G=1e-2, crop_pad=8, flip=True, residual_G=False,
                      cnn_width=32, judge_steps=3000, judge_batch_size=64, judge_width=32,
                      judge_id_widths=(32, 64, 128, 128), n_show=6, n_pairs=8, sketch_steps=3000,
                      sketch_images=1000),
    },
    # FaPE-GAN (notebooks/fapegan.py): FaPE-GAN per split of each F2ED task (ER-SS, ER-UE, ER-UP, ER-ZID, and ER-SS on
    # `fractions` of its training faces), Fa-Net with and without its faces per split and seed, the plain CNN and a judge
    # on ER-SS, and Table 4 (a 7-class target, from scratch vs fine-tuned from the ER-SS Fa-Net). n_splits x seeds are
    # the replicates of every claim; fanet_bn: BatchNorm after LightCNN's convolutions (the CPU deviation);
    # lr_step_epochs: the paper's "x0.457 every 10" in epochs (small: every 2 of its ~9 epochs, about as many decays
    # per run as the paper's 10 in 100 epochs); aug_ratio: generated faces per real training face;
    # lam: the paper's lambda = 10 in `paper`; 100 at the CPU budgets (the pose transfer reached the judge's view
    # check in far fewer steps); judge_splits: the ER-SS splits whose FaPE-GAN the judge reads; judge_width 16 in small
    # (at width 8 the judge read too few of the 8 close expression classes to score a generator by).
    "fapegan": {
        "smoke": dict(size=32, channels=3, n_identities=6, n_classes=4, fine_spacing=2.0, n_splits=1, seeds=(0,),
                      tasks=("ER-SS", "ER-UE", "ER-UP", "ER-ZID"), fractions=(0.5,), gan_width=4, gan_steps=3,
                      gan_batch_size=8, gan_lr=2e-4, lam=10.0, fanet_widths=(4, 8, 8, 8, 8), fanet_layers=(0, 1, 1, 1),
                      fanet_feature_dim=16, fanet_dropout=0.2, fanet_bn=True, fanet_steps=3, fanet_batch_size=8,
                      fanet_lr=0.01, lr_step_epochs=10, aug_ratio=1.0, cnn_width=4, cnn_lr=1e-3, judge_splits=1,
                      judge_steps=3,
                      judge_batch_size=16, judge_width=4, judge_id_widths=(4, 4, 8, 8), target_identities=4,
                      target_takes=1, target_steps=3, target_batch_size=8, target_lr=0.01, n_pairs=16, n_show=3),
        "small": dict(size=32, channels=3, n_identities=20, n_classes=8, fine_spacing=2.0, n_splits=5, seeds=(0, 1),
                      tasks=("ER-SS", "ER-UE", "ER-UP", "ER-ZID"), fractions=(0.25,), gan_width=16, gan_steps=600,
                      gan_batch_size=16, gan_lr=2e-4, lam=100.0, fanet_widths=(8, 16, 32, 16, 16),
                      fanet_layers=(0, 1, 1, 1), fanet_feature_dim=64, fanet_dropout=0.2, fanet_bn=True,
                      fanet_steps=135, fanet_batch_size=32, fanet_lr=0.01, lr_step_epochs=2, aug_ratio=1.0,
                      cnn_width=8, cnn_lr=1e-3, judge_splits=2, judge_steps=300, judge_batch_size=32, judge_width=16,
                      judge_id_widths=(8, 16, 32, 32), target_identities=30, target_takes=2, target_steps=100,
                      target_batch_size=32, target_lr=0.01, n_pairs=200, n_show=6),
        "paper": dict(size=128, channels=3, n_identities=119, n_classes=54, fine_spacing=1.0, n_splits=5, seeds=(0, 1),
                      tasks=("ER-SS", "ER-UE", "ER-UP", "ER-ZID"), fractions=(0.1, 0.25, 0.5), gan_width=64,
                      gan_steps=40000, gan_batch_size=32, gan_lr=2e-4, lam=10.0,
                      fanet_widths=(48, 96, 192, 128, 128), fanet_layers=(1, 2, 3, 4), fanet_feature_dim=256,
                      fanet_dropout=0.5, fanet_bn=False, fanet_steps=30000, fanet_batch_size=128, fanet_lr=0.01,
                      lr_step_epochs=10, aug_ratio=1.0, cnn_width=32, cnn_lr=1e-3, judge_splits=5, judge_steps=3000,
                      judge_batch_size=64, judge_width=32, judge_id_widths=(32, 64, 128, 128), target_identities=10,
                      target_takes=3, target_steps=3000, target_batch_size=32, target_lr=5e-4, n_pairs=1000,
                      n_show=6),
    },
    # Comp-GAN (notebooks/compgan.py): the six F2ED tasks (n_episodes random episodes each, at the fewest `shots`; the
    # few-shot tasks also at the other shot counts), per episode F_cls (LightCNN-29 v2, three heads), Comp-GAN (G(Exp) +
    # G(Pose), Algorithm 1, Eqs. 1-13), the Pix2Pix and AttGAN competitors, Comp-GAN without L_loop on loop_tasks, the
    # Fig. 16 ablations on the first ER-SS episode, a judge on judge_tasks; per fold and seed the recogniser L. with each
    # augmenter's faces (n_per_class generated faces per novel class). label_maps: the target attribute also enters the
    # editors as one-hot maps (the CPU deviation); cls_bn: BatchNorm in LightCNN (likewise); lam / mu: Sec. 5.2.1's
    # weights; set_threshold: the probability above which a class is in f(x) for Eqs. 14-18; probe_steps: the linear
    # classifier of +Front / +Combine / Ours; cls_probe_heads: F_cls heads that learn on the detached feature (only the
    # expression loss shapes the backbone: the CPU deviation); gan_residual: editors add their output to the source.
    # shot_seeds: extra seeds of the shots claim (L. and L.+G(Pose)+G(Exp) on the few-shot tasks at every shot count:
    # few-shot tasks x episodes x seeds replicates); the face claims pair over loop_tasks / judge_tasks episodes.
    "compgan": {
        "smoke": dict(size=32, channels=3, n_identities=6, n_classes=4, fine_spacing=2.0, n_episodes=1, seeds=(0,),
                      shot_seeds=(0,), tasks=("ER-SS", "ER-FE"), shots=(1, 3),
                      gan_width=4, gan_steps=2, gan_batch_size=4, gan_lr=2e-4, gan_residual=True, label_maps=True,
                      per_source=2,
                      lam=dict(exp=20.0, pose=20.0, id=10.0, con=30.0, recon=15.0, loop=10.0, adv=1.0),
                      mu=dict(exp=30.0, pose=10.0, id=15.0, con=40.0, recon=15.0, loop=10.0, adv=1.0),
                      gamma=(1.0, 0.1), cls_widths=(4, 8, 8, 8, 8), cls_layers=(0, 1, 1, 1), cls_feature_dim=16,
                      cls_dropout=0.2, cls_bn=True, cls_probe_heads=("pose", "identity"), cls_steps=2,
                      cls_batch_size=8, cls_lr=0.01, lr_step_epochs=10,
                      rec_steps=2, rec_batch_size=8, rec_lr=0.01, cnn_width=4, cnn_lr=1e-3, n_per_class=2,
                      curve=(4,), shot_variants=("L.", "L.+G(Pose)+G(Exp)"), loop_tasks=("ER-SS",),
                      ablations=("loop",), judge_tasks=("ER-SS",), judge_steps=2, judge_batch_size=16, judge_width=4,
                      judge_id_widths=(4, 4, 8, 8), n_pairs=12, n_show=3, n_embed=12, set_threshold=0.5, probe_steps=20),
        "small": dict(size=32, channels=3, n_identities=20, n_classes=8, fine_spacing=2.0, n_episodes=1,
                      seeds=(0, 1), shot_seeds=(2, 3), tasks=("ER-SS", "ER-FID", "ER-ZID", "ER-FP", "ER-ZP", "ER-FE"),
                      shots=(1, 5),
                      gan_width=8, gan_steps=240, gan_batch_size=8, gan_lr=2e-4, gan_residual=True, label_maps=True,
                      per_source=4,
                      lam=dict(exp=20.0, pose=20.0, id=10.0, con=30.0, recon=15.0, loop=10.0, adv=1.0),
                      mu=dict(exp=30.0, pose=10.0, id=15.0, con=40.0, recon=15.0, loop=10.0, adv=1.0),
                      gamma=(1.0, 0.1), cls_widths=(8, 16, 32, 16, 16), cls_layers=(0, 1, 1, 1), cls_feature_dim=64,
                      cls_dropout=0.2, cls_bn=True, cls_probe_heads=("pose", "identity"), cls_steps=150,
                      cls_batch_size=32, cls_lr=0.01, lr_step_epochs=5, rec_steps=25, rec_batch_size=32, rec_lr=0.002,
                      cnn_width=8, cnn_lr=1e-3, n_per_class=30,
                      curve=(), shot_variants=("L.", "L.+G(Pose)+G(Exp)"), loop_tasks=("ER-SS",),
                      ablations=(), judge_tasks=("ER-SS",), judge_steps=100, judge_batch_size=32, judge_width=8,
                      judge_id_widths=(8, 16, 32, 32), n_pairs=120, n_show=6, n_embed=60, set_threshold=0.5, probe_steps=100),
        "paper": dict(size=128, channels=3, n_identities=119, n_classes=54, fine_spacing=1.0, n_episodes=2,
                      seeds=(0, 1, 2, 3, 4), shot_seeds=(),
                      tasks=("ER-SS", "ER-FID", "ER-ZID", "ER-FP", "ER-ZP", "ER-FE"),
                      shots=(1, 3, 5), gan_width=64, gan_steps=50000, gan_batch_size=64, gan_lr=2e-4, gan_residual=False,
                      label_maps=False,
                      per_source=4, lam=dict(exp=20.0, pose=20.0, id=10.0, con=30.0, recon=15.0, loop=10.0, adv=1.0),
                      mu=dict(exp=30.0, pose=10.0, id=15.0, con=40.0, recon=15.0, loop=10.0, adv=1.0),
                      gamma=(1.0, 0.1), cls_widths=(48, 96, 192, 128, 128), cls_layers=(1, 2, 3, 4),
                      cls_feature_dim=256, cls_dropout=0.5, cls_bn=False, cls_probe_heads=(), cls_steps=30000,
                      cls_batch_size=64,
                      cls_lr=0.01, lr_step_epochs=10, rec_steps=30000, rec_batch_size=64, rec_lr=0.01, cnn_width=32,
                      cnn_lr=1e-3, n_per_class=10, curve=(1, 3, 5, 10, 20, 50, 100, 200, 500, 1000),
                      shot_variants=("L.", "L.+G(Pose)", "L.+G(Exp)", "L.+G(Pose)+G(Exp)"),
                      loop_tasks=("ER-SS", "ER-FID", "ER-ZID", "ER-FP", "ER-ZP", "ER-FE"),
                      ablations=("exp", "pose", "id", "con", "recon", "loop", "adv"),
                      judge_tasks=("ER-SS", "ER-FID", "ER-ZID", "ER-FP", "ER-ZP", "ER-FE"),
                      judge_steps=3000, judge_batch_size=64, judge_width=32, judge_id_widths=(32, 64, 128, 128),
                      n_pairs=1000, n_show=6, n_embed=90, set_threshold=0.5, probe_steps=500),
    },
    # The comparison (notebooks/compare.py): one protocol for every method (fer_core.methods.compare.protocol): a
    # world with sequences and views, subject-independent folds, four test conditions. Each method's generator
    # trains gan_steps steps of gan_batch_size once per fold with its own package's step (the fesr_/jesrl_/fape_/
    # groupgan_/compgan_ settings: its networks at this size; groupgan_basenet "plain": the recogniser's CNN as
    # GroupGAN's BaseNet); the same plain CNN (cnn_width, lr, steps, batch_size) then trains per fold and seed on
    # the real faces plus aug_ratio generated faces per real one. folds x seeds are the replicates of every claim;
    # n_edit test faces per fold are edited for the judge, n_frechet faces per set enter each Fréchet distance;
    # compgan_batch_size: Algorithm 1's tuples per step (8 faces each: about as many faces per step as the others');
    # nuisance / idiosyncrasy: a lab-like world (CK+ and Oulu-CASIA are recorded in a lab), as GroupGAN's chapter.
    "compare": {
        "smoke": dict(size=32, channels=3, n_identities=6, n_frames=6, weak_frames=(2,), nuisance=0.3, idiosyncrasy=0.5,
                      seen_views=("half_left", "front"), unseen_view="half_right", folds=2, seeds=(0,),
                      methods=("FESR", "JESRL", "FaPE-GAN", "GroupGAN", "Comp-GAN"), cnn_width=4, lr=3e-3, steps=4,
                      batch_size=16, aug_ratio=0.5, gan_steps=2, gan_batch_size=4, judge_steps=3,
                      judge_batch_size=16, judge_width=4, judge_id_widths=(4, 4, 8, 8), n_edit=12, n_frechet=64,
                      n_show=4, fesr_width=4, fesr_latent_dim=16, fesr_d_z=(16, 8, 4), fesr_lr=5e-4,
                      fesr_lambda_rec=100.0, fesr_lambda_cls=3.0, jesrl_width=2, jesrl_vgg_width=2, jesrl_c_fuse=8,
                      jesrl_c_fc=(8, 8), jesrl_lambdas=(10.0, 0.0, 5.0, 5.0), jesrl_lr=2e-4, jesrl_lr_C=3e-3,
                      jesrl_pairs=4, fape_width=4, fape_lam=100.0, fape_lr=2e-4, groupgan_width=4,
                      groupgan_basenet="plain", groupgan_fc=(64, 32), groupgan_adv=2e-3, groupgan_gamma_G=1e-2,
                      groupgan_lr=2e-4, groupgan_lr_C=5e-4, compgan_width=4, compgan_cls_steps=2, compgan_lr=2e-4,
                      compgan_batch_size=2),
        "small": dict(size=32, channels=3, n_identities=30, n_frames=8, weak_frames=(2, 3), nuisance=0.3,
                      idiosyncrasy=0.5,
                      seen_views=("half_left", "front", "half_right"), unseen_view="bird", folds=5, seeds=(0, 1),
                      methods=("FESR", "JESRL", "FaPE-GAN", "GroupGAN", "Comp-GAN"), cnn_width=8, lr=3e-3, steps=150,
                      batch_size=32, aug_ratio=0.5, gan_steps=60, gan_batch_size=16, judge_steps=120,
                      judge_batch_size=32, judge_width=8, judge_id_widths=(8, 16, 32, 32), n_edit=64, n_frechet=500,
                      n_show=6, fesr_width=8, fesr_latent_dim=32, fesr_d_z=(32, 16, 8), fesr_lr=5e-4,
                      fesr_lambda_rec=100.0, fesr_lambda_cls=3.0, jesrl_width=4, jesrl_vgg_width=4, jesrl_c_fuse=16,
                      jesrl_c_fc=(32, 32), jesrl_lambdas=(10.0, 0.0, 5.0, 5.0), jesrl_lr=2e-4, jesrl_lr_C=3e-3,
                      jesrl_pairs=8, fape_width=8, fape_lam=100.0, fape_lr=2e-4, groupgan_width=8,
                      groupgan_basenet="plain", groupgan_fc=(128, 64), groupgan_adv=2e-3, groupgan_gamma_G=1e-2,
                      groupgan_lr=2e-4, groupgan_lr_C=5e-4, compgan_width=8, compgan_cls_steps=50, compgan_lr=2e-4,
                      compgan_batch_size=4),
        "paper": dict(size=128, channels=3, n_identities=118, n_frames=16, weak_frames=(5, 6, 7), nuisance=0.3,
                      idiosyncrasy=0.5,
                      seen_views=("half_left", "front", "half_right"), unseen_view="bird", folds=10, seeds=(0, 1),
                      methods=("FESR", "JESRL", "FaPE-GAN", "GroupGAN", "Comp-GAN"), cnn_width=32, lr=1e-3, steps=3000,
                      batch_size=64, aug_ratio=1.0, gan_steps=20000, gan_batch_size=32, judge_steps=3000,
                      judge_batch_size=64, judge_width=32, judge_id_widths=(32, 64, 128, 128), n_edit=500,
                      n_frechet=2000, n_show=6, fesr_width=64, fesr_latent_dim=64, fesr_d_z=(64, 32, 16), fesr_lr=1e-4,
                      fesr_lambda_rec=10.0, fesr_lambda_cls=1.0, jesrl_width=64, jesrl_vgg_width=64, jesrl_c_fuse=512,
                      jesrl_c_fc=(4096, 4096), jesrl_lambdas=(10.0, 0.0, 5.0, 5.0), jesrl_lr=2e-4, jesrl_lr_C=1e-3,
                      jesrl_pairs=10, fape_width=64, fape_lam=10.0, fape_lr=2e-4, groupgan_width=32,
                      groupgan_basenet="vgg13", groupgan_fc=(512, 256), groupgan_adv=2e-3, groupgan_gamma_G=1e-2,
                      groupgan_lr=1e-4, groupgan_lr_C=1e-4, compgan_width=64, compgan_cls_steps=3000, compgan_lr=2e-4,
                      compgan_batch_size=8),
    },
}


class Profile(Mapping[str, Any]):
    """Read-only settings with attribute access (``P.steps``) and the profile's name (``P.name``)."""

    def __init__(self, chapter: str, name: str, values: Mapping[str, Any]):
        self._values = MappingProxyType(dict(values))
        self.chapter, self.name = chapter, name

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __getattr__(self, key: str) -> Any:
        try:
            return self.__dict__["_values"][key]
        except KeyError:
            raise AttributeError(
                f"profile {self.__dict__.get('chapter')}/{self.__dict__.get('name')} has no setting {key!r}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Profile({self.chapter!r}, {self.name!r}, {dict(self._values)})"

    def as_dict(self) -> dict[str, Any]:
        return {"chapter": self.chapter, "profile": self.name, **self._values}


def get_profile(chapter: str, name: str) -> Profile:
    """The settings of ``chapter`` under profile ``name`` (``smoke``, ``small`` or ``paper``)."""
    if chapter not in PROFILES:
        raise ValueError(f"unknown chapter {chapter!r}; chapters with profiles: {sorted(PROFILES)}")
    if name not in PROFILE_NAMES:
        raise ValueError(f"unknown profile {name!r}; choose one of {PROFILE_NAMES}")
    return Profile(chapter, name, PROFILES[chapter][name])
