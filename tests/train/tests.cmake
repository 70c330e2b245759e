# SPDX-License-Identifier: MIT
# Training (issue 12): `onnxgrad train` step by step against PyTorch 1.13
# (Debian's python3-torch), each optimiser, schedule and clipping, and the
# trained model through onnx.checker and `onnxgrad eval`. Included from
# tests/CMakeLists.txt.
add_test(NAME train_torch_agreement
         COMMAND ${OG_MODELS_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/torch_agreement.py $<TARGET_FILE:onnxgrad_cli>
                 ${CMAKE_CURRENT_BINARY_DIR}/train-work)
set_tests_properties(train_torch_agreement PROPERTIES TIMEOUT 600 ENVIRONMENT "OPENBLAS_NUM_THREADS=1")

# train/eval end to end: checkpoints, resuming bit for bit (after an epoch and
# mid-epoch), --keep, threads, --plot, eval, errors.
add_test(NAME train_cli
         COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/cli_train_test.sh $<TARGET_FILE:onnxgrad_cli> $<TARGET_FILE:lenet>
                 ${OG_MODELS_PYTHON3} ${CMAKE_CURRENT_BINARY_DIR}/train-cli)
set_tests_properties(train_cli PROPERTIES TIMEOUT 600 ENVIRONMENT "OPENBLAS_NUM_THREADS=1")

# examples/train_lenet.c on Fashion-MNIST: its saved model scored by
# `onnxgrad eval` and by ONNX Runtime (onnxruntime-node) identically.
add_test(NAME train_lenet_ort
         COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/lenet_ort_test.sh $<TARGET_FILE:train_lenet> $<TARGET_FILE:onnxgrad_cli>
                 ${OG_NODE} ${CMAKE_CURRENT_LIST_DIR}/ort_score.js ${OG_MODELS_ORT_DIR}
                 ${CMAKE_CURRENT_BINARY_DIR}/lenet-ort)
set_tests_properties(train_lenet_ort PROPERTIES FIXTURES_REQUIRED og_models_ort TIMEOUT 900
                     ENVIRONMENT "OPENBLAS_NUM_THREADS=1")

# `onnxgrad train --distributed` (tools/distributed.c) under Open MPI on this
# machine over loopback: against one process, bit-identical reruns, uneven
# shards, failing ranks (tests/train/mpi_agreement.py). Only with MPI found.
if(OG_MPIEXEC)
  add_test(NAME train_mpi_agreement
           COMMAND ${OG_MODELS_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/mpi_agreement.py $<TARGET_FILE:onnxgrad_cli>
                   ${OG_MPIEXEC} ${CMAKE_CURRENT_BINARY_DIR}/mpi-work)
  set_tests_properties(train_mpi_agreement PROPERTIES TIMEOUT 900)
  if(OG_SANITIZE)
    # Open MPI leaves its own allocations (op tables, dlclosed plugins) at exit, which
    # LeakSanitizer reports in every rank; memory errors are still caught, and the
    # trainer's own paths are leak-checked by test_train and train_cli.
    set_tests_properties(train_mpi_agreement PROPERTIES ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1")
  endif()
endif()
