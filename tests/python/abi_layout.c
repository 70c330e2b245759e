/* SPDX-License-Identifier: MIT */
/* abi_layout.c — prints the size of every struct the Python module
 * declares with ctypes (python/onnxgrad/_capi.py), and each field's
 * offset, as "struct size N" and "struct.field offset N" lines, for
 * test_abi.py to compare: a field added to a header without the Python
 * side following shows up as a test failure, not as memory read wrong. */
#include <stddef.h>
#include <stdio.h>
#include <onnxgrad/onnxgrad.h>

#define SIZE(s) printf(#s " size %zu\n", sizeof(s))
#define OFF(s, f) printf(#s "." #f " offset %zu\n", offsetof(s, f))

int main(void)
{
    SIZE(og_tensor); OFF(og_tensor, dtype); OFF(og_tensor, rank); OFF(og_tensor, dims); OFF(og_tensor, numel);
    OFF(og_tensor, data); OFF(og_tensor, name);
    SIZE(og_value_info); OFF(og_value_info, name); OFF(og_value_info, dtype); OFF(og_value_info, rank);
    OFF(og_value_info, dims); OFF(og_value_info, dim_params);
    SIZE(og_plan_options); OFF(og_plan_options, n_threads);
    SIZE(og_save_options); OFF(og_save_options, struct_size); OFF(og_save_options, external_data_file);
    OFF(og_save_options, external_min_bytes);
    SIZE(og_grad_options); OFF(og_grad_options, loss); OFF(og_grad_options, n_seeded); OFF(og_grad_options, seeded);
    OFF(og_grad_options, n_wrt); OFF(og_grad_options, wrt); OFF(og_grad_options, allow_unused);
    SIZE(og_gradcheck_options); OFF(og_gradcheck_options, n_wrt); OFF(og_gradcheck_options, wrt);
    OFF(og_gradcheck_options, order); OFF(og_gradcheck_options, eps); OFF(og_gradcheck_options, atol);
    OFF(og_gradcheck_options, rtol); OFF(og_gradcheck_options, fast); OFF(og_gradcheck_options, seed);
    OFF(og_gradcheck_options, max_elements); OFF(og_gradcheck_options, n_inputs); OFF(og_gradcheck_options, inputs);
    OFF(og_gradcheck_options, progress); OFF(og_gradcheck_options, user); OFF(og_gradcheck_options, n_seeds);
    OFF(og_gradcheck_options, seeds); OFF(og_gradcheck_options, interrupt);
    SIZE(og_gradcheck_entry); OFF(og_gradcheck_entry, name); OFF(og_gradcheck_entry, numel);
    OFF(og_gradcheck_entry, checked); OFF(og_gradcheck_entry, max_abs_err); OFF(og_gradcheck_entry, max_rel_err);
    OFF(og_gradcheck_entry, worst_index); OFF(og_gradcheck_entry, worst_analytic);
    OFF(og_gradcheck_entry, worst_numeric); OFF(og_gradcheck_entry, pass);
    SIZE(og_gradcheck_report); OFF(og_gradcheck_report, n); OFF(og_gradcheck_report, entries);
    OFF(og_gradcheck_report, pass); OFF(og_gradcheck_report, interrupted); OFF(og_gradcheck_report, done);
    OFF(og_gradcheck_report, total);
    SIZE(og_train_options); OFF(og_train_options, struct_size); OFF(og_train_options, loss_fn);
    OFF(og_train_options, loss); OFF(og_train_options, input_name); OFF(og_train_options, output_name);
    OFF(og_train_options, label_name); OFF(og_train_options, label_dtype); OFF(og_train_options, n_trainable);
    OFF(og_train_options, trainable); OFF(og_train_options, optimizer); OFF(og_train_options, lr);
    OFF(og_train_options, momentum); OFF(og_train_options, nesterov); OFF(og_train_options, weight_decay);
    OFF(og_train_options, beta1); OFF(og_train_options, beta2); OFF(og_train_options, epsilon);
    OFF(og_train_options, clip_norm); OFF(og_train_options, schedule); OFF(og_train_options, step_epochs);
    OFF(og_train_options, gamma); OFF(og_train_options, epochs);
    /* the defaults the Python Trainer spells out */
    og_train_options o = OG_TRAIN_OPTIONS_INIT;
    printf("default loss_fn %d\ndefault label_dtype %d\ndefault optimizer %d\ndefault lr %.17g\n"
           "default momentum %.17g\ndefault beta1 %.17g\ndefault beta2 %.17g\ndefault epsilon %.17g\n"
           "default step_epochs %d\ndefault gamma %.17g\ndefault epochs %d\n",
           (int)o.loss_fn, (int)o.label_dtype, (int)o.optimizer, o.lr, o.momentum, o.beta1, o.beta2, o.epsilon,
           o.step_epochs, o.gamma, o.epochs);
    printf("OG_MAX_RANK %d\nversion %s\n", OG_MAX_RANK, OG_VERSION_STRING);
    return 0;
}
