/* SPDX-License-Identifier: MIT */
/* train_lenet.c — LeNet-5 built with the layer builder, trained on
 * Fashion-MNIST with momentum SGD, scored after every epoch and saved as an
 * ordinary .onnx (with its training step) that any runtime scores.
 *
 *     train_lenet [DATA_DIR] [EPOCHS] [OUT.onnx]
 *
 * DATA_DIR defaults to /usr/share/datasets/fashion-mnist (Debian's
 * dataset-fashion-mnist). Only the public API (<onnxgrad/onnxgrad.h>). */
#include <onnxgrad/onnxgrad.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(call)                                                    \
    do {                                                               \
        if ((call) != OG_OK) {                                         \
            fprintf(stderr, "train_lenet: %s\n", og_errmsg());         \
            return 1;                                                  \
        }                                                              \
    } while (0)

/* Test accuracy through the trainer's inference plan, 1000 at a time. */
static int accuracy(og_trainer *t, const og_dataset *test, double *acc)
{
    int64_t n = og_dataset_size(test), idx[1000], correct = 0;
    const og_tensor *X = og_dataset_x(test);
    og_tensor *x = NULL, *y = NULL;
    for (int64_t start = 0; start < n; start += 1000) {
        int64_t m = n - start < 1000 ? n - start : 1000;
        if (!x || x->dims[0] != m) {
            og_tensor_free(x);
            og_tensor_free(y);
            CHECK(og_tensor_create(OG_FLOAT, 4, (int64_t[]){ m, 1, X->dims[2], X->dims[3] }, &x));
            CHECK(og_tensor_create(OG_INT64, 1, &m, &y));
        }
        for (int64_t k = 0; k < m; k++)
            idx[k] = start + k;
        const og_tensor *logits;
        CHECK(og_dataset_gather(test, idx, m, x, y));
        CHECK(og_trainer_predict(t, x, &logits));
        for (int64_t k = 0; k < m; k++) {
            const float *row = (const float *)logits->data + 10 * k;
            int best = 0;
            for (int c = 1; c < 10; c++)
                if (row[c] > row[best])
                    best = c;
            correct += best == ((const int64_t *)y->data)[k];
        }
    }
    og_tensor_free(x);
    og_tensor_free(y);
    *acc = (double)correct / (double)n;
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
    int epochs = argc > 2 ? atoi(argv[2]) : 2;
    const char *out = argc > 3 ? argv[3] : "lenet5-trained.onnx";

    /* LeNet-5: dynamic batch, 1 x 28 x 28 images, 10 classes */
    og_net *net;
    CHECK(og_net_create("x", 4, (int64_t[]){ -1, 1, 28, 28 }, 42, &net));
    og_net_conv(net, 6, 5, 1, 2), og_net_relu(net), og_net_maxpool(net, 2, 2);
    og_net_conv(net, 16, 5, 1, 0), og_net_relu(net), og_net_maxpool(net, 2, 2);
    og_net_flatten(net);
    og_net_dense(net, 120), og_net_relu(net);
    og_net_dense(net, 84), og_net_relu(net);
    og_net_dense(net, 10);
    og_graph *model;
    CHECK(og_net_finish(net, "logits", &model));

    og_dataset *train, *test;
    CHECK(og_dataset_load(dir, "train", &train));
    CHECK(og_dataset_load(dir, "test", &test));

    og_train_options o = OG_TRAIN_OPTIONS_INIT;   /* softmax cross-entropy on the output */
    o.optimizer = OG_OPTIM_MOMENTUM;
    o.lr = 0.01;
    o.momentum = 0.9;
    og_trainer *t;
    CHECK(og_trainer_create(model, &o, 0, &t));

    const int64_t batch = 64, n = og_dataset_size(train);
    int64_t *perm = malloc(sizeof *perm * (size_t)n);
    og_tensor *x, *y, *xl, *yl;
    int64_t rest = n % batch;
    CHECK(og_tensor_create(OG_FLOAT, 4, (int64_t[]){ batch, 1, 28, 28 }, &x));
    CHECK(og_tensor_create(OG_INT64, 1, &batch, &y));
    CHECK(og_tensor_create(OG_FLOAT, 4, (int64_t[]){ rest ? rest : 1, 1, 28, 28 }, &xl));
    CHECK(og_tensor_create(OG_INT64, 1, (int64_t[]){ rest ? rest : 1 }, &yl));
    for (int e = 0; e < epochs; e++) {
        CHECK(og_shuffle_permutation(1, e, n, perm));
        og_trainer_set_epoch(t, e);
        double sum = 0;
        for (int64_t s = 0; s < n; s += batch) {
            int64_t m = n - s < batch ? n - s : batch;
            og_tensor *bx = m == batch ? x : xl, *by = m == batch ? y : yl;
            double loss;
            CHECK(og_dataset_gather(train, perm + s, m, bx, by));
            CHECK(og_trainer_step(t, bx, by, &loss));
            sum += loss * (double)m;
        }
        double acc;
        if (accuracy(t, test, &acc))
            return 1;
        printf("epoch %d: train loss %.4f, test accuracy %.2f%%\n", e + 1, sum / (double)n, 100 * acc);
        fflush(stdout);
    }
    og_graph *trained;
    CHECK(og_trainer_export(t, &trained));
    CHECK(og_model_save_file(trained, out));
    printf("saved %s\n", out);
    og_graph_free(trained);
    og_tensor_free(x), og_tensor_free(y), og_tensor_free(xl), og_tensor_free(yl);
    free(perm);
    og_trainer_free(t);
    og_dataset_free(train), og_dataset_free(test);
    og_graph_free(model);
    return 0;
}
