# Writes the text of IN to OUT as one C++ raw string literal, so that a
# built-in handler's Python module is compiled into the extension
# (handlers/python_state_handler.h): cmake -DIN=<file> -DOUT=<file.inc> -P embed_text.cmake
file(READ "${IN}" content)
string(FIND "${content}" ")__cm_py__" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} contains the raw string delimiter )__cm_py__")
endif()
file(WRITE "${OUT}" "R\"__cm_py__(${content})__cm_py__\"\n")
