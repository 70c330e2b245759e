# SPDX-License-Identifier: MIT
# End-to-end models (issue 11): real PyTorch models exported to ONNX, checked
# against PyTorch's outputs and autograd gradients, and the saved gradient
# graphs run in ONNX Runtime. Included from tests/CMakeLists.txt.
#
# Data: gen_models.py (torch 1.13 from Debian's python3-torch) writes every
# model and its references into OG_MODELS_DATA_DIR once (fixture
# og_models_data); onnxruntime-node is installed from package-lock.json into
# OG_MODELS_ORT_DIR (fixture og_models_ort). Each model is one ctest,
# model_<name>; tests/models/expect.txt lists the ones that cannot pass yet.

set(OG_MODELS_PYTHON3 /usr/bin/python3 CACHE FILEPATH "Python with torch, torchvision and onnx, for the model tests")
set(OG_MODELS_DATA_DIR ${CMAKE_BINARY_DIR}/models-data CACHE PATH "Generated model test data (reused when current)")
set(OG_MODELS_ORT_DIR ${CMAKE_BINARY_DIR}/models-ort CACHE PATH "onnxruntime-node install for the model tests")
find_program(OG_NODE NAMES node nodejs)
if(NOT OG_NODE)
  set(OG_NODE node)   # the ORT stage then fails, saying node is missing
endif()

add_executable(og_models_runner ${CMAKE_CURRENT_LIST_DIR}/runner.c)
target_link_libraries(og_models_runner PRIVATE onnxgrad_static m)

add_test(NAME models_data
         COMMAND ${OG_MODELS_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/gen_models.py ${OG_MODELS_DATA_DIR})
set_tests_properties(models_data PROPERTIES FIXTURES_SETUP og_models_data TIMEOUT 900)

add_test(NAME models_ort_install
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/install_ort.sh ${CMAKE_CURRENT_LIST_DIR} ${OG_MODELS_ORT_DIR})
set_tests_properties(models_ort_install PROPERTIES FIXTURES_SETUP og_models_ort TIMEOUT 900)

# Must match the names in gen_models.py (a name without data fails).
set(OG_MODELS
  lenet5 mlp_nobias resnet_block_eval resnet_block_train resnet_block_train_opset12
  resnet18 mobilenet_v2 mobilenet_v3_small squeezenet1_1
  transformer_encoder embedding_linear unet_convt unet_nearest unet_bilinear
  loss_ce_mean loss_ce_sum_weight loss_ce_none_ignore loss_ce_mean_weight_ignore
  loss_nll_mean loss_nll_sum_weight loss_nll_none_ignore loss_nll_mean_weight_ignore
  loss_logsoftmax_nll_weight loss_ce_spatial_ignore dynamic_batch)
foreach(m ${OG_MODELS})
  add_test(NAME model_${m}
           COMMAND og_models_runner ${OG_MODELS_DATA_DIR} ${CMAKE_CURRENT_BINARY_DIR}/models-work
                   ${CMAKE_CURRENT_LIST_DIR}/expect.txt ${m}
                   ${OG_NODE} ${CMAKE_CURRENT_LIST_DIR}/ort_check.js ${OG_MODELS_ORT_DIR})
  set_tests_properties(model_${m} PROPERTIES FIXTURES_REQUIRED "og_models_data;og_models_ort"
                       SKIP_RETURN_CODE 77 TIMEOUT 600 LABELS models
                       ENVIRONMENT "OPENBLAS_NUM_THREADS=1;OG_NUM_THREADS=2")
endforeach()

# The runner must notice a wrong reference: one output element, one gradient
# element moved past the tolerance (copies of dynamic_batch, gen_models.py).
foreach(st output:forward grad:gradients)
  string(REPLACE ":" ";" st ${st})
  list(GET st 0 what)
  list(GET st 1 stage)
  add_test(NAME models_selftest_bad_${what}
           COMMAND og_models_runner ${OG_MODELS_DATA_DIR} ${CMAKE_CURRENT_BINARY_DIR}/models-work
                   ${CMAKE_CURRENT_LIST_DIR}/expect.txt selftest_bad_${what})
  set_tests_properties(models_selftest_bad_${what} PROPERTIES FIXTURES_REQUIRED og_models_data
                       SKIP_RETURN_CODE 77 SKIP_REGULAR_EXPRESSION "^SKIP "
                       PASS_REGULAR_EXPRESSION "FAIL selftest_bad_${what}: ${stage}: .*1 of [0-9]+ elements differ from PyTorch, worst \\[1\\]")
endforeach()

# ...and so must the ORT check (on model_dynamic_batch's saved check).
set_tests_properties(model_dynamic_batch PROPERTIES FIXTURES_SETUP og_models_dyn_work)
add_test(NAME models_selftest_ort
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/ort_selftest.sh ${CMAKE_CURRENT_BINARY_DIR}/models-work
                 ${OG_NODE} ${CMAKE_CURRENT_LIST_DIR}/ort_check.js ${OG_MODELS_ORT_DIR})
set_tests_properties(models_selftest_ort PROPERTIES FIXTURES_REQUIRED "og_models_dyn_work;og_models_ort")
