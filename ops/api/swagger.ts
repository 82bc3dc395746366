/**
 * `GET /docs/swagger.yaml`: a Swagger 2.0 description of the API dost
 * serves, as gost serves one of its own (written for dost, from its routes).
 *
 * @module
 */
import { KINDS } from "./kinds.ts";

const kinds = KINDS.join(", ");

export const SWAGGER_YAML: string = `swagger: "2.0"
info:
  title: dost Web API (gost 3.2.6 compatible)
  version: "1"
  description: >-
    The running config, object by object. Every change is applied like a reload: the whole new config is
    checked first and nothing changes when it is refused. Kinds: ${kinds}.
basePath: /
schemes: [http]
securityDefinitions:
  basicAuth: {type: basic}
security: [{basicAuth: []}]
definitions:
  Response: {type: object, properties: {msg: {type: string, example: OK}}}
  Error: {type: object, properties: {code: {type: integer, example: 40001}, msg: {type: string}}}
  List:
    type: object
    properties: {data: {type: object, properties: {count: {type: integer}, list: {type: array, items: {type: object}}}}}
  Item: {type: object, properties: {data: {type: object}}}
parameters:
  kind: {name: kind, in: path, required: true, type: string, enum: [${KINDS.join(", ")}]}
  name: {name: name, in: path, required: true, type: string}
paths:
  /config:
    get:
      summary: The running config, with each service's status.
      parameters: [{name: format, in: query, type: string, enum: [json, yaml]}]
      responses: {"200": {description: the config}}
    post:
      summary: Save the running config to a file (default gost.yaml or gost.json in the working directory).
      parameters:
        - {name: format, in: query, type: string, enum: [json, yaml]}
        - {name: path, in: query, type: string}
      responses: {"200": {description: saved, schema: {$ref: "#/definitions/Response"}}, "500": {description: 40005, schema: {$ref: "#/definitions/Error"}}}
  /config/reload:
    post:
      summary: Re-read the config sources, as SIGHUP.
      responses: {"200": {description: reloaded, schema: {$ref: "#/definitions/Response"}}, "400": {description: 40001, schema: {$ref: "#/definitions/Error"}}}
  /config/{kind}:
    parameters: [{$ref: "#/parameters/kind"}]
    get:
      summary: List the objects of a kind.
      responses: {"200": {description: list, schema: {$ref: "#/definitions/List"}}}
    post:
      summary: Create an object (the body is the bare object).
      parameters: [{name: body, in: body, required: true, schema: {type: object}}]
      responses:
        "200": {description: created, schema: {$ref: "#/definitions/Response"}}
        "400": {description: 40001 no name or bad JSON, 40002 duplicate, schema: {$ref: "#/definitions/Error"}}
        "500": {description: 40003 refused (the reason is in msg), schema: {$ref: "#/definitions/Error"}}
  /config/{kind}/{name}:
    parameters: [{$ref: "#/parameters/kind"}, {$ref: "#/parameters/name"}]
    get:
      summary: One object, or data null.
      responses: {"200": {description: the object, schema: {$ref: "#/definitions/Item"}}}
    put:
      summary: Replace an object (the name comes from the path).
      parameters: [{name: body, in: body, required: true, schema: {type: object}}]
      responses:
        "200": {description: replaced, schema: {$ref: "#/definitions/Response"}}
        "400": {description: 40004 unknown, schema: {$ref: "#/definitions/Error"}}
        "500": {description: 40003 refused, schema: {$ref: "#/definitions/Error"}}
    delete:
      summary: Delete an object (refused while a service uses it).
      responses:
        "200": {description: deleted, schema: {$ref: "#/definitions/Response"}}
        "400": {description: 40004 unknown, schema: {$ref: "#/definitions/Error"}}
        "500": {description: 40003 still in use, schema: {$ref: "#/definitions/Error"}}
  /stats:
    get:
      summary: "dost: per-service connections, errors and live byte counts (the dashboard's feed)."
      responses: {"200": {description: stats}}
`;
